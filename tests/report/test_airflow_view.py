"""The `leadflow_ui` Airflow plugin on a real api-server: the "Lead qualification" view and the Data Docs are
listed as external views, an unauthenticated request is refused, an authenticated one (a token from Airflow's
own auth manager, or the UI's login cookie in a real browser) gets the latest report.

The api-server runs Airflow's simple auth manager with a real user and password (`all admins` off: with it on,
Airflow authenticates every request as an admin by itself, so nothing could be refused)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import httpx
import pytest

from tests.report.conftest import ARTIFACTS


def _free_port() -> int:
    for port in range(29400, 29500):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 29400-29499")


@pytest.fixture(scope="module")
def api_server(demo_run, tmp_path_factory: pytest.TempPathFactory):
    from leadflow.runtime import airflow_bin, airflow_env, migrate_metadata

    home = tmp_path_factory.mktemp("airflow")
    (home / "passwords.json").write_text(json.dumps({"analyst": PASSWORD}))
    env = airflow_env(demo_run["settings"], demo_run["url"])
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API_AUTH__JWT_SECRET": "leadflow-test-jwt-secret-0123456789abcdef",
            "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "analyst:viewer",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        }
    )
    migrate_metadata(env)
    port = _free_port()
    log = (home / "api-server.log").open("w")
    process = subprocess.Popen(
        [airflow_bin(), "api-server", "--port", str(port), "--host", "127.0.0.1", "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, (home / "api-server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (
                "api-server did not start: " + (home / "api-server.log").read_text()[-3000:]
            )
            time.sleep(1)
        yield {"base": base, "log": home / "api-server.log"}
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
        log.close()


PASSWORD = "correct horse battery staple"


def _token(base: str) -> str:
    """A JWT from Airflow's own login (the simple auth manager; the user is a viewer)."""
    response = httpx.post(f"{base}/auth/token", json={"username": "analyst", "password": PASSWORD}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def test_plugin_lists_the_view_and_the_data_docs(api_server) -> None:
    plugins = httpx.get(
        f"{api_server['base']}/api/v2/plugins", headers={"Authorization": f"Bearer {_token(api_server['base'])}"}
    ).json()["plugins"]
    ui = next(p for p in plugins if p["name"] == "leadflow_ui")
    assert {v["name"]: v["href"] for v in ui["external_views"]} == {
        "Lead qualification": "leadflow/report",
        "Data quality (GX Data Docs)": "leadflow/data-docs/index.html",
    }
    assert [a["url_prefix"] for a in ui["fastapi_apps"]] == ["/leadflow"]


@pytest.mark.parametrize("path", ["/leadflow/report", "/leadflow/data-docs/index.html", "/leadflow/"])
def test_an_unauthenticated_request_is_refused(api_server, path: str) -> None:
    response = httpx.get(api_server["base"] + path, timeout=10)
    assert response.status_code == 401
    assert "Lead qualification" not in response.text and "@" not in response.text
    forged = httpx.get(api_server["base"] + path, headers={"Authorization": "Bearer not-a-jwt"}, timeout=10)
    assert forged.status_code in (401, 403)
    wrong = httpx.post(f"{api_server['base']}/auth/token", json={"username": "analyst", "password": "guess"})
    assert wrong.status_code == 401


def test_an_authenticated_request_gets_the_latest_report_and_the_data_docs(api_server, demo_run) -> None:
    headers = {"Authorization": f"Bearer {_token(api_server['base'])}"}
    report = httpx.get(f"{api_server['base']}/leadflow/report", headers=headers, timeout=30)
    assert report.status_code == 200
    assert report.text == (demo_run["home"] / "report" / "lead-qualification.html").read_text()
    assert report.headers["cache-control"] == "no-store"
    docs = httpx.get(f"{api_server['base']}/leadflow/data-docs/index.html", headers=headers, timeout=30)
    assert docs.status_code == 200 and "Data Docs" in docs.text
    escape = httpx.get(f"{api_server['base']}/leadflow/data-docs/..%2F..%2Fpgdata%2FPG_VERSION", headers=headers)
    assert escape.status_code == 404


def test_the_view_loads_in_chromium_with_the_ui_login_cookie(api_server) -> None:
    # The Airflow UI keeps the JWT in its `_token` cookie; the view's iframe is sent it like this page is.
    from playwright.sync_api import sync_playwright

    from tests.report.test_report_browser import chromium

    url = f"{api_server['base']}/leadflow/report"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            anonymous = browser.new_page()
            assert anonymous.goto(url).status == 401

            context = browser.new_context(viewport={"width": 1100, "height": 1400})
            context.add_cookies([{"name": "_token", "value": _token(api_server["base"]), "url": api_server["base"]}])
            page = context.new_page()
            events: dict[str, list] = {"console": [], "errors": [], "failed": [], "responses": []}
            page.on("console", lambda m: events["console"].append((m.type, m.text)))
            page.on("pageerror", lambda e: events["errors"].append(str(e)))
            page.on("requestfailed", lambda r: events["failed"].append((r.url, r.failure)))
            page.on("response", lambda r: events["responses"].append((r.url, r.status)))
            assert page.goto(url).status == 200
            page.wait_for_function("document.body.dataset.rendered === document.body.dataset.charts", timeout=30_000)
            assert page.locator("h1").inner_text() == "Lead qualification"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "airflow-view.png"))
        finally:
            browser.close()
    assert events["failed"] == [] and events["errors"] == []
    assert [c for c in events["console"] if c[0] == "error"] == []
    assert all(status < 400 for _, status in events["responses"]), events["responses"]
