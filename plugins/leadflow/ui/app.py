"""The FastAPI app the `leadflow_ui` Airflow plugin mounts at /leadflow: the latest lead-qualification report and
the Great Expectations Data Docs.

Airflow does not protect a plugin's routes by itself, and the report holds lead e-mails: every route requires
Airflow's own authentication (the JWT the UI keeps in its cookie, or an `Authorization: Bearer` token, resolved
by Airflow's auth manager) and the auth manager's permission to read this custom view.
"""

from __future__ import annotations

import html

from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

URL_PREFIX = "/leadflow"
VIEW_NAME = "Lead qualification"
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _require_airflow_user():
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import get_user

    def check(user=Depends(get_user)) -> None:  # noqa: B008 - FastAPI's way of declaring a dependency
        if not get_auth_manager().is_authorized_custom_view(method="GET", resource_name=VIEW_NAME, user=user):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"not allowed to read the {VIEW_NAME} view")

    return check


def _page(title: str, body: str, code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        '<link rel="icon" href="data:,"><style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:48rem}'
        "</style></head><body>" + body + "</body></html>",
        status_code=code,
        headers=NO_STORE,
    )


def create_app() -> FastAPI:
    app = FastAPI(
        title="leadflow: lead qualification",
        description="The latest lead-qualification report and the quality gate's Data Docs.",
        dependencies=[Depends(_require_airflow_user())],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    def settings():
        from leadflow.settings import current_settings

        return current_settings()  # the environment of the api-server now (LEADFLOW_HOME)

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("report", status_code=status.HTTP_307_TEMPORARY_REDIRECT)

    @app.get("/report")
    def report():
        from leadflow.report import report_path

        path = report_path(settings())
        if not path.is_file():
            return _page(
                "No report yet",
                "<h1>No lead-qualification report yet</h1><p>It is rendered at the end of every "
                "<code>leadflow_pipeline</code> run, or by <code>leadflow report</code>; expected at "
                f"<code>{html.escape(str(path))}</code>.</p>",
                404,
            )
        return FileResponse(path, media_type="text/html; charset=utf-8", headers=NO_STORE)

    @app.get("/data-docs/{relative:path}")
    def data_docs(relative: str):
        root = (settings().home_dir / "data_docs").resolve()
        target = (root / (relative or "index.html")).resolve()
        if not target.is_relative_to(root):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            if relative in ("", "index.html"):
                return _page(
                    "No Data Docs yet",
                    "<h1>No Data Docs yet</h1><p>The quality gate writes them when it runs; expected at "
                    f"<code>{html.escape(str(root / 'index.html'))}</code>.</p>",
                    404,
                )
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
        return FileResponse(target, headers=NO_STORE)

    return app
