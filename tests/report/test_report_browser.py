"""The report in a real browser: Debian's headless Chromium (driven by Playwright) opens the rendered file with
every request recorded; nothing may fail or leave the file, no console error, and every chart draws.
Screenshots are kept in .test-artifacts/ (the README's picture is one of them)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.report.conftest import ARTIFACTS


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium package)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def open_page(url: str, viewport: dict | None = None):
    """(playwright, browser, page, events) with console messages, page errors and requests recorded."""
    from playwright.sync_api import sync_playwright

    executable = chromium()  # skips before Playwright starts: a started one left behind breaks the next test
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
    page = browser.new_page(viewport=viewport or {"width": 1100, "height": 1400})
    events: dict[str, list] = {"console": [], "errors": [], "requests": [], "failed": [], "responses": []}
    page.on("console", lambda m: events["console"].append((m.type, m.text)))
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    page.on("request", lambda r: events["requests"].append(r.url))
    page.on("requestfailed", lambda r: events["failed"].append((r.url, r.failure)))
    page.on("response", lambda r: events["responses"].append((r.url, r.status)))
    page.goto(url)
    return pw, browser, page, events


def test_report_loads_in_headless_chromium_without_network_or_errors(demo_run) -> None:
    path = demo_run["home"] / "report" / "lead-qualification.html"
    pw, browser, page, events = open_page(path.as_uri())
    try:
        page.wait_for_function("document.body.dataset.rendered === document.body.dataset.charts", timeout=30_000)
        charts = int(page.evaluate("document.body.dataset.charts"))
        assert charts >= 7
        assert page.locator("figure .chart svg").count() == charts  # every chart drew
        # each chart drew marks, not an empty frame
        for i in range(charts):
            assert page.locator(f"#chart{i + 1} svg .mark-group, #chart{i + 1} svg path").count() > 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-top.png"))
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    finally:
        browser.close()
        pw.stop()
    assert events["failed"] == []
    assert events["errors"] == []
    assert [c for c in events["console"] if c[0] in ("error", "warning")] == []
    assert all(u.startswith(("file:", "data:")) for u in events["requests"]), events["requests"]
    assert (ARTIFACTS / "report.png").stat().st_size > 50_000
