"""The quality checks against hand-built marts on the real embedded PostgreSQL.

Each class of bad data is injected into otherwise clean marts. What Great Expectations owns (volume, freshness,
raw-layer and ratio checks) must fail the gate naming the check, the table and offending keys, the sync must
refuse, and the destination must get nothing. What dbt owns (column and row constraints) must fail the dbt test
that states it, on the same marts.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
import yaml

from leadflow.pull.contract import BY_KEY
from leadflow.quality.alerts import send_alert
from leadflow.quality.gate import QualityGateFailed, raise_if_failed, run_gate
from leadflow.sync.engine import SyncRefused, run_sync
from leadflow.transform.dbt import DbtFailed, run_dbt
from leadflow.warehouse.ops import ensure_ops

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
LEADS, QUALIFIED = 100, 10


REPO = Path(__file__).resolve().parents[2]
MARTS = REPO / "dbt_project" / "models" / "marts"
SUITES = [json.loads(p.read_text()) for p in sorted((REPO / "expectations").glob("*.json"))]


def create_contract_tables(conn: psycopg.Connection) -> None:
    """Every mart the suites read, empty, with exactly the columns and types of its dbt contract."""
    conn.execute("create schema if not exists marts")
    for path in sorted(MARTS.glob("*.yml")):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            columns = ", ".join(f'"{c["name"]}" {c["data_type"]}' for c in model["columns"])
            conn.execute(f"create table marts.{model['name']} ({columns})")


def build_clean_marts(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_ops(conn)
        create_contract_tables(conn)
        for key in ("web.event", "consent.suppression"):
            conn.execute(BY_KEY[key].ddl())
        conn.execute("insert into marts.leads (lead_id) select 'L' || g from generate_series(1, %s) g", (LEADS,))
        conn.execute(
            """
            insert into marts.lead_scores (lead_id, fit_score, engagement_score, intent_score, product_usage_score,
                                           total_score)
            select 'L' || g, 50.0, 40.0, 10.0, 0.0, 30.0 from generate_series(1, %s) g
            """,
            (LEADS,),
        )
        conn.execute(
            """
            insert into marts.qualified_leads (lead_id, is_conversion_qualified, is_sql, is_pql,
                is_conversation_qualified, is_mql, primary_type, total_score, reasons_text, conversion_qualified_at,
                sla_due_at)
            select 'L' || g, g <= 2, g between 3 and 5, false, false, g > 5,
                   case when g <= 2 then 'conversion_qualified' when g <= 5 then 'sql' else 'mql' end,
                   60.0, 'requested a demo',
                   case when g <= 2 then %(as_of)s - interval '1 hour' end,
                   case when g <= 2 then %(as_of)s - interval '55 minutes' else %(as_of)s + interval '1 day' end
            from generate_series(1, %(n)s) g
            """,
            {"as_of": AS_OF, "n": QUALIFIED},
        )
        conn.execute(
            """
            insert into marts.outreach_queue (queue_id, lead_id, destination, primary_type, email, payload,
                                              content_hash)
            select lead_id || ':file', lead_id, 'file', primary_type, lower(lead_id) || '@acme.com',
                   jsonb_build_object('email', lower(lead_id) || '@acme.com'), md5(lead_id)
            from marts.qualified_leads
            """
        )
        conn.execute(
            "insert into raw.web_events (event_id, event_type, occurred_at) "
            "select 'E' || g, 'page_view', %s - g * interval '1 hour' from generate_series(1, 30) g",
            (AS_OF,),
        )
        conn.execute("insert into raw.consent_suppressions values ('gone@acme.com', 'unsubscribed', %s)", (AS_OF,))


INJECTIONS = {
    "suppressed email in the queue": (
        "insert into raw.consent_suppressions values ('l4@acme.com', 'do_not_contact', now())",
        ("outreach_queue", "unexpected_rows_expectation"),
        "L4:file",
    ),
    "stale data": (
        "update raw.web_events set occurred_at = occurred_at - interval '5 days'",
        ("raw_web_events", "expect_column_max_to_be_between"),
        None,
    ),
}
# The same kind of bad data where dbt owns the check: (statement, dbt selection, the failing test's name).
DBT_INJECTIONS = {
    "duplicate key": (
        "insert into marts.qualified_leads select * from marts.qualified_leads where lead_id = 'L7'",
        "unique_qualified_leads_lead_id",
    ),
    "out-of-range score": (
        "update marts.lead_scores set engagement_score = 140 where lead_id = 'L3'",
        "accepted_range_lead_scores_engagement_score",
    ),
    "malformed email in the queue": (
        "update marts.outreach_queue set email = 'l5@' where lead_id = 'L5'",
        "outreach_queue_email_is_normalised",
    ),
    "unknown destination in the queue": (
        "update marts.outreach_queue set destination = 'fax' where lead_id = 'L6'",
        "accepted_values_outreach_queue_destination",
    ),
    "primary type contradicts flags": (
        "update marts.qualified_leads set primary_type = 'mql' where lead_id = 'L1'",
        "qualified_leads_primary_type_follows_the_flags",
    ),
    "hot lead with a late SLA": (
        "update marts.qualified_leads set sla_due_at = conversion_qualified_at + interval '1 hour' where lead_id = 'L2'",
        "qualified_leads_hot_sla_within_5_minutes",
    ),
}
# 10 of 100 leads qualify in the clean marts; this leaves 10 of 16: 62.5%.
SHARE_JUMP = (
    "delete from marts.leads where lead_id not in (select lead_id from marts.qualified_leads) "
    "and lead_id not in ('L11', 'L12', 'L13', 'L14', 'L15', 'L16')"
)


def delivered(home) -> list[str]:
    return sorted(p.name for p in (home / "outbox").rglob("*.jsonl"))


def test_clean_marts_pass_and_are_recorded(warehouse: str, home) -> None:
    build_clean_marts(warehouse)
    result = run_gate("clean", AS_OF)
    assert result.success, [str(f) for f in result.failures]
    # a first run: every expectation, freshness and ratio check, no volume check yet (no earlier good run)
    checks = sum(len(s["expectations"]) + ("freshness" in s) + len(s.get("ratio_checks", [])) for s in SUITES)
    assert result.evaluated == checks
    assert result.docs_index is not None and result.docs_index.exists()
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute("select suite, success, (row_counts->>'rows')::int from ops.quality_runs").fetchall()
    assert {r[0] for r in rows} == {s["name"] for s in SUITES}
    assert all(r[1] for r in rows)
    [report] = run_sync("clean")
    assert report.sent == QUALIFIED


def test_data_docs_are_published_to_a_url_every_machine_can_read(warehouse: str, home, monkeypatch) -> None:
    import fsspec

    from leadflow.settings import reset_settings

    url = f"memory://docs-{uuid.uuid4().hex[:8]}/site"
    monkeypatch.setenv("LEADFLOW_DATA_DOCS_URL", url)
    reset_settings()
    build_clean_marts(warehouse)
    result = run_gate("published", AS_OF)
    assert result.success, [str(f) for f in result.failures]
    fs = fsspec.filesystem("memory")
    assert fs.cat(url + "/index.html") == result.docs_index.read_bytes()
    local = {p.relative_to(result.docs_index.parent).as_posix() for p in result.docs_index.parent.rglob("*.html")}
    remote = {p.split("/site/", 1)[1] for p in fs.find(url) if p.endswith(".html")}
    assert local == remote

    monkeypatch.setenv("LEADFLOW_DATA_DOCS_URL", "nosuchstore://bucket/docs")
    reset_settings()
    with pytest.raises(RuntimeError, match=r"LEADFLOW_DATA_DOCS_URL.*nosuchstore://bucket/docs"):
        run_gate("unpublishable", AS_OF)


@pytest.mark.parametrize("case", sorted(INJECTIONS))
def test_each_class_of_bad_data_blocks_the_sync(case: str, warehouse: str, home) -> None:
    statement, (suite, expectation), key = INJECTIONS[case]
    build_clean_marts(warehouse)
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute(statement)
    result = run_gate("bad", AS_OF)
    assert not result.success
    failed = [f for f in result.failures if (f.suite, f.expectation) == (suite, expectation)]
    assert failed, [str(f) for f in result.failures]
    if key is not None:
        assert key in failed[0].sample_keys, str(failed[0])
    with pytest.raises(QualityGateFailed) as err:
        raise_if_failed(result)
    assert suite in str(err.value) and expectation in str(err.value)
    with pytest.raises(SyncRefused):
        run_sync("bad")
    assert delivered(home) == []


def _dbt_test(*names: str) -> None:
    """``dbt test`` of the named data tests (their names as dbt_project's YAML gives or generates them)."""
    run_dbt(["test", "--select", *(f"{name}*" for name in names)], as_of=AS_OF)


def test_clean_marts_pass_the_dbt_tests_that_own_their_constraints(warehouse: str, home) -> None:
    build_clean_marts(warehouse)
    _dbt_test(*(name for _, name in DBT_INJECTIONS.values()))


@pytest.mark.parametrize("case", sorted(DBT_INJECTIONS))
def test_each_class_of_bad_data_fails_the_dbt_test_that_owns_it(case: str, warehouse: str, home) -> None:
    statement, name = DBT_INJECTIONS[case]
    build_clean_marts(warehouse)
    _execute(warehouse, statement)
    with pytest.raises(DbtFailed) as failure:
        _dbt_test(name)
    [failed] = [line for line in str(failure.value).splitlines() if line.startswith("  test.leadflow.")]
    assert failed.startswith(f"  test.leadflow.{name}") and "(fail)" in failed, failed


def test_a_tenfold_row_count_jump_fails_against_the_last_good_run(warehouse: str, home) -> None:
    build_clean_marts(warehouse)
    assert run_gate("day-1", AS_OF).success
    with psycopg.connect(warehouse, autocommit=True) as conn:
        for n in range(9):  # ten times the rows, each copy with its own keys
            conn.execute(
                "insert into marts.outreach_queue (queue_id, lead_id, destination, primary_type, email, payload, "
                "content_hash) select queue_id || %s, lead_id, destination, primary_type, email, payload, content_hash "
                "from marts.outreach_queue where queue_id not like '%%#%%'",
                (f"#{n}",),
            )
    result = run_gate("day-2", AS_OF)
    failed = {(f.suite, f.expectation) for f in result.failures}
    assert ("outreach_queue", "expect_table_row_count_to_be_between") in failed
    with pytest.raises(SyncRefused):
        run_sync("day-2")


def test_failure_alert_reaches_the_configured_channel(warehouse: str, home, monkeypatch) -> None:
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("LEADFLOW_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hooks/T0/B0/secret")
    try:
        build_clean_marts(warehouse)
        with psycopg.connect(warehouse, autocommit=True) as conn:
            conn.execute(INJECTIONS["suppressed email in the queue"][0])
        result = run_gate("alerting", AS_OF)
        assert send_alert("gate failed", [str(f) for f in result.failures])
    finally:
        server.shutdown()
    assert len(received) == 1
    assert "unexpected_rows_expectation on marts.outreach_queue" in received[0]["text"]


def test_freshness_uses_the_runs_as_of_not_the_wall_clock(warehouse: str, home) -> None:
    build_clean_marts(warehouse)
    assert run_gate("then", AS_OF).success
    later = run_gate("later", AS_OF + timedelta(days=3))
    assert ("raw_web_events", "expect_column_max_to_be_between") in {(f.suite, f.expectation) for f in later.failures}


def _execute(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


def test_a_qualified_share_jump_against_the_last_good_run_fails(warehouse: str, home) -> None:
    build_clean_marts(warehouse)
    assert run_gate("day-1", AS_OF).success
    _execute(warehouse, SHARE_JUMP)
    result = run_gate("day-2", AS_OF)
    [failure] = [f for f in result.failures if f.expectation == "ratio:qualified_share"]
    assert "62.5%" in failure.detail and "10.0% at the last good run day-1" in failure.detail, failure.detail
    with pytest.raises(SyncRefused):
        run_sync("day-2")
    assert delivered(home) == []


def test_an_out_of_band_share_on_a_first_run_only_warns_and_explains(warehouse: str, home) -> None:
    build_clean_marts(warehouse)
    _execute(warehouse, SHARE_JUMP)
    result = run_gate("first", AS_OF)
    assert result.success, [str(f) for f in result.failures]
    [warning] = result.warnings
    assert "qualified share of all leads: 62.5%, expected 0.1%..40.0%" in warning
    assert "first run" in warning
    with psycopg.connect(warehouse) as conn:
        stored = conn.execute(
            "select warnings, row_counts -> 'ratios' from ops.quality_runs where suite = 'qualified_leads'"
        ).fetchone()
    assert stored == ([warning], {"qualified_share": 0.625})
    [report] = run_sync("first")
    assert report.sent == QUALIFIED
    # the next run compares with this one: the same share is no sudden change, still a warning
    again = run_gate("second", AS_OF)
    assert again.success and "no sudden change from 62.5% at the last good run first" in again.warnings[0]


def test_nothing_qualifies_on_a_first_run_warns(warehouse: str, home) -> None:
    build_clean_marts(warehouse)
    _execute(warehouse, "delete from marts.outreach_queue; delete from marts.qualified_leads")
    result = run_gate("empty", AS_OF)
    assert result.success, [str(f) for f in result.failures]
    assert any("qualified share of all leads: 0.0%" in w for w in result.warnings), result.warnings


def test_a_setting_makes_ratio_checks_warn_only(warehouse: str, home, monkeypatch) -> None:
    from leadflow.settings import reset_settings

    build_clean_marts(warehouse)
    assert run_gate("day-1", AS_OF).success
    _execute(warehouse, SHARE_JUMP)
    monkeypatch.setenv("LEADFLOW_GATE_RATIOS_WARN_ONLY", "true")
    reset_settings()
    result = run_gate("day-2", AS_OF)
    # (leads shrank sixfold: its volume check still fails; the share only warns)
    assert [f.expectation for f in result.failures] == ["expect_table_row_count_to_be_between"]
    assert "a sudden change from 10.0%" in result.warnings[0] and "LEADFLOW_GATE_RATIOS_WARN_ONLY" in result.warnings[0]


def test_freshness_applies_only_when_the_source_is_configured(warehouse: str, home, monkeypatch, tmp_path) -> None:
    from leadflow.settings import reset_settings

    build_clean_marts(warehouse)
    _execute(warehouse, "delete from raw.web_events")  # an export without web data
    failed = {(f.suite, f.expectation) for f in run_gate("with-web", AS_OF).failures}
    assert ("raw_web_events", "expect_column_max_to_be_between") in failed  # sources.yml configures web
    sources = tmp_path / "sources.crm-only.yml"
    sources.write_text(yaml.safe_dump({"crm": {"kind": "files", "entities": {"lead": {"pattern": "*.csv"}}}}))
    monkeypatch.setenv("LEADFLOW_SOURCES_FILE", str(sources))
    reset_settings()
    result = run_gate("without-web", AS_OF)
    assert result.success, [str(f) for f in result.failures]
