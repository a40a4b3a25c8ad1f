"""The lead-qualification report: rendered by every `leadflow run` and by `leadflow report`, one self-contained
HTML file readable by its owner only, every chart captioned with its mart, figures as the marts hold them."""

from __future__ import annotations

import html
import re
import stat

import psycopg
from click.testing import CliRunner

from tests.conftest import scratch_warehouse


def _invoke(*args: str):
    from leadflow.cli import main

    return CliRunner().invoke(main, list(args))


def test_leadflow_run_renders_the_report_readable_by_its_owner_only(demo_run) -> None:
    path = demo_run["home"] / "report" / "lead-qualification.html"
    assert f"report: {path}" in demo_run["output"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_report_is_self_contained_and_every_chart_names_its_mart(demo_run) -> None:
    text = (demo_run["home"] / "report" / "lead-qualification.html").read_text()
    # nothing is fetched: no external script, stylesheet, image or font
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", text)
    assert "window.vegaEmbed=" in text  # the chart library is inlined
    figures = re.findall(r"<figure>.*?</figure>", text, flags=re.S)
    assert len(figures) >= 7
    for figure in figures:
        caption = re.search(r"<figcaption>(.*?)</figcaption>", figure, flags=re.S).group(1)
        assert re.search(r"From <code>(marts|ops)\.\w+", caption), caption
    specs = re.search(r"const specs = (\{.*?\});\n", text, flags=re.S).group(1)
    assert specs.count('"$schema"') == len(figures)
    for heading in (
        "Leads and qualified leads over time",
        "Do qualified leads convert? Conversion, lift, precision and recall",
        "Learned score: lift by decile and calibration",
        "Days to qualify and to won",
        "Speed to lead",
        "Quality gate and quarantine",
        "Top qualified leads, with their reasons",
    ):
        assert f"<h2>{html.escape(heading)}</h2>" in text


def test_report_figures_are_the_marts_figures(demo_run) -> None:
    text = (demo_run["home"] / "report" / "lead-qualification.html").read_text()
    with psycopg.connect(demo_run["url"]) as conn:
        leads = conn.execute("select count(*) from marts.leads").fetchone()[0]
        qualified = conn.execute("select count(*) from marts.qualified_leads").fetchone()[0]
        top = conn.execute(
            "select email, reasons_text from marts.qualified_leads order by array_position(array["
            "'conversion_qualified','sql','pql','conversation_qualified','mql'], primary_type), total_score desc, "
            "lead_id limit 1"
        ).fetchone()
        mql = conn.execute(
            "select qualified_count, lift from marts.qualification_performance "
            "where qualification_type = 'mql' and rule = 'any'"
        ).fetchone()
        quarantined = conn.execute("select count(*) from ops.quarantine").fetchone()[0]
        checks = conn.execute("select sum(evaluated) from ops.quality_runs where run_id = 'report-1'").fetchone()[0]
    assert f"<b>{leads:,}</b><span>leads</span>" in text
    assert f"<b>{qualified:,}</b><span>qualified now (any type)</span>" in text
    assert f"<b>{quarantined:,}</b><span>records quarantined</span>" in text
    assert f'<b class="pass">passed</b><span>quality gate, {checks} checks</span>' in text
    assert html.escape(top[0]) in text and html.escape(top[1]) in text
    row = re.search(r"<td class=\"\">MQL · all rules</td><td class=\"num\">([\d,]+)</td>.*?</tr>", text).group(0)
    assert f">{mql[0]:,}<" in row and f">{float(mql[1]):.2f}×<" in row
    assert "No learned score yet" in text  # no model trained on the demo warehouse


def test_leadflow_report_renders_on_demand_and_replaces_the_file(demo_run) -> None:
    path = demo_run["home"] / "report" / "lead-qualification.html"
    before = path.stat().st_mtime_ns
    result = _invoke("report")
    assert result.exit_code == 0, result.output
    assert str(path) in result.output
    assert path.stat().st_mtime_ns > before and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(path.parent.glob(".*.tmp"))


def test_leadflow_report_on_an_empty_warehouse_says_what_to_do(server_url: str, tmp_path) -> None:
    with scratch_warehouse(server_url, "report_empty", LEADFLOW_HOME=str(tmp_path)):
        result = _invoke("report")
    assert result.exit_code == 1
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert "has no marts.leads" in result.output and "leadflow run" in result.output
    assert not (tmp_path / "report" / "lead-qualification.html").exists()


def test_summary_shows_as_of_gate_and_conversion_figures(demo_run) -> None:
    result = _invoke("summary")
    assert result.exit_code == 0, result.output
    out = result.output
    with psycopg.connect(demo_run["url"]) as conn:
        as_of = conn.execute("select max(as_of) from marts.qualification_performance").fetchone()[0]
        checks = conn.execute("select sum(evaluated) from ops.quality_runs where run_id = 'report-1'").fetchone()[0]
        sql = conn.execute(
            "select qualified_count, conversion_rate_qualified, lift from marts.qualification_performance "
            "where qualification_type = 'sql' and rule = 'any'"
        ).fetchone()
        won, leads = conn.execute(
            "select sum(new_leads_won), sum(new_leads) from marts.funnel_daily where qualification_type = 'any'"
        ).fetchone()
    assert f"as of: {as_of:%Y-%m-%d %H:%M} UTC" in out
    assert f"quality gate: passed, {checks} checks (run report-1)" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("SQL ") and "%" in x)
    assert f"{sql[0]:,}" in line and f"{float(sql[1]):.1%}" in line and f"{float(sql[2]):.1f}x" in line
    assert f"lead-to-customer, every lead: {won:,} of {leads:,} won" in out
    assert "report           " + str(demo_run["home"] / "report" / "lead-qualification.html") in out


def test_speed_to_lead_shows_each_delivery_from_the_ledger_without_a_build(demo_run) -> None:
    """`leadflow run` syncs after its dbt build; speed_to_lead (a view) already shows what that sync delivered."""
    with psycopg.connect(demo_run["url"]) as conn:
        kind = conn.execute("select relkind from pg_class where oid = 'marts.speed_to_lead'::regclass").fetchone()[0]
        rows = conn.execute(
            """
            select s.synced_at, d.first_delivered
            from marts.speed_to_lead as s
            inner join (
                select lead_id, qualified_at, min(qualification_delivered_at) as first_delivered
                from ops.sync_ledger group by lead_id, qualified_at
            ) as d on s.lead_id = d.lead_id and date_trunc('second', s.qualifying_event_at) = d.qualified_at
            """
        ).fetchall()
    assert kind == "v"
    assert rows and all(synced is not None and synced == first for synced, first in rows)
