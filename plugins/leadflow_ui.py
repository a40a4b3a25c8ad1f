"""Airflow plugin: the "Lead qualification" view (the latest report) and the quality gate's Data Docs, in the
Airflow UI's Browse menu, served by a FastAPI app at /leadflow that requires Airflow's own login
(plugins/leadflow/ui/app.py)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from leadflow.ui.app import URL_PREFIX, VIEW_NAME, create_app


class LeadflowUiPlugin(AirflowPlugin):
    name = "leadflow_ui"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "leadflow: lead qualification"}]
    external_views = [
        {
            "name": VIEW_NAME,
            "href": URL_PREFIX.lstrip("/") + "/report",
            "destination": "nav",
            "category": "browse",
            "url_route": "lead-qualification",
        },
        {
            "name": "Data quality (GX Data Docs)",
            "href": URL_PREFIX.lstrip("/") + "/data-docs/index.html",
            "destination": "nav",
            "category": "browse",
            "url_route": "data-docs",
        },
    ]
