"""The quality gate's Data Docs open offline: every stylesheet, script, font and image is a local file (GX's
pages load them from CDNs), so in a browser without network the pass/fail icon of each check shows and the
index lists the runs; nothing fails, nothing leaves the machine, no console error."""

from __future__ import annotations

import re

import psycopg

from tests.report.conftest import ARTIFACTS
from tests.report.test_report_browser import open_page

FONT_LOADED = """async () => {
  await document.fonts.ready;
  return [...document.fonts].some((f) => f.family.includes("Font Awesome") && f.status === "loaded");
}"""


def test_no_page_loads_anything_from_the_network(demo_run) -> None:
    pages = list((demo_run["home"] / "data_docs").rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        text = page.read_text()
        remote = re.findall(r"""<(?:script|link|img)\b[^>]*?(?:src|href)\s*=\s*["']?https?://[^"' >]+""", text)
        assert remote == [], (page.name, remote)


def test_data_docs_show_every_check_offline_in_chromium(demo_run) -> None:
    docs = demo_run["home"] / "data_docs"
    with psycopg.connect(demo_run["url"]) as conn:
        suites = conn.execute("select count(*) from ops.quality_runs where run_id = 'report-1'").fetchone()[0]
    validation = next((docs / "validations").rglob("*.html"))
    for name, path in (("index", docs / "index.html"), ("validation", validation)):
        pw, browser, page, events = open_page(path.as_uri())
        try:
            page.wait_for_load_state("load")
            assert page.evaluate(FONT_LOADED), f"{name}: the icon font did not load"
            icons = page.locator(".fa-check-circle, .fa-times-circle, .fa-check, .fa-times")
            assert icons.count() > 0
            assert "Font Awesome" in icons.first.evaluate("e => getComputedStyle(e, '::before').fontFamily")
            if name == "index":  # the list of validation runs, drawn without bootstrap-table's CDN copy
                assert page.locator("#section-1-content-block-2-1-body-table tbody tr").count() >= suites
            else:
                assert page.get_by_text("Succeeded").count() >= 1
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"data-docs-{name}.png"))
        finally:
            browser.close()
            pw.stop()
        assert events["failed"] == [] and events["errors"] == [], name
        assert [c for c in events["console"] if c[0] == "error"] == [], name
        assert all(u.startswith(("file:", "data:")) for u in events["requests"]), (name, events["requests"])
