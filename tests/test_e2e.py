"""End to end: the real DAG through Airflow against the real embedded PostgreSQL, twice.

Generates a small demo landing zone, serves the demo CRM/conversations API, runs
`airflow dags test leadflow_pipeline`, and checks raw, staging, marts, the file destination and
the ledger. The second run of the same interval must send nothing new. Then bad data is injected
into the marts: dbt's tests and the quality gate each catch what they own, and the sync is blocked.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from leadflow.pull.contract import ENTITIES
from leadflow_demo.generator import NOT_GENERATED
from tests.conftest import scratch_warehouse

pytestmark = pytest.mark.e2e

LEADS = 400


@pytest.fixture(scope="module")
def pipeline_env(server_url: str, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("e2e")
    env = {"LEADFLOW_LANDING_DIR": str(root / "landing"), "LEADFLOW_OUTBOX_DIR": str(root / "outbox")}
    with scratch_warehouse(server_url, "e2e", **env) as url:
        yield {"url": url, "root": root}


@pytest.fixture(scope="module")
def first_run(pipeline_env):
    from leadflow.cli import run_dag
    from leadflow.settings import get_settings
    from leadflow_demo.api_server import CrmApiServer
    from leadflow_demo.generator import generate

    settings = get_settings()
    as_of = datetime.now(UTC).replace(second=0, microsecond=0)
    generate(settings.landing, leads=LEADS, seed=11, as_of=as_of)
    port = int(settings.api_url.rsplit(":", 1)[1])
    with CrmApiServer(root=settings.landing, port=port) as api:
        run_dag(pipeline_env["url"], as_of, pipeline_env["root"] / "run1.log")
        first = _snapshot(pipeline_env)
        run_dag(pipeline_env["url"], as_of, pipeline_env["root"] / "run2.log")
        second = _snapshot(pipeline_env)
    return {"first": first, "second": second, "as_of": as_of, "api": api}


def _snapshot(env) -> dict:
    outbox = env["root"] / "outbox" / "file"
    lines = [
        json.loads(line) for path in sorted(outbox.glob("batch-*.jsonl")) for line in path.read_text().splitlines()
    ]
    with psycopg.connect(env["url"]) as conn:
        runs = conn.execute(
            "select sent, updated, retried, planned from ops.sync_runs where destination = 'file' order by started_at desc"
        ).fetchall()
    return {"delivered": lines, "files": sorted(p.name for p in outbox.glob("batch-*.jsonl")), "last_sync": runs[0]}


def test_every_raw_table_loaded_and_audit_balances(pipeline_env, first_run) -> None:
    with psycopg.connect(pipeline_env["url"]) as conn:
        for entity in ENTITIES:
            if entity.key in NOT_GENERATED:
                continue
            count = conn.execute(f"select count(*) from {entity.qualified_table}").fetchone()[0]
            assert count > 0, entity.qualified_table
        unbalanced = conn.execute("select count(*) from ops.load_audit where read <> loaded + quarantined").fetchone()
        assert unbalanced[0] == 0
        sources = {r[0] for r in conn.execute("select distinct source from ops.load_audit")}
        assert sources == {e.source for e in ENTITIES}
        # The generator plants malformed records; each is quarantined with a reason, none silently lost.
        assert conn.execute("select count(*) from ops.quarantine where reason <> ''").fetchone()[0] > 0


def test_staging_and_marts_built(pipeline_env, first_run) -> None:
    with psycopg.connect(pipeline_env["url"]) as conn:
        assert conn.execute("select count(*) from staging.stg_crm__leads").fetchone()[0] > 0
        assert conn.execute("select count(*) from staging.stg_web__events").fetchone()[0] > 0
        leads = conn.execute("select count(*) from marts.leads").fetchone()[0]
        qualified = conn.execute("select count(*) from marts.qualified_leads").fetchone()[0]
        assert leads >= LEADS * 0.9
        assert 0 < qualified < leads


def test_file_destination_received_the_queue_once(pipeline_env, first_run) -> None:
    delivered = first_run["first"]["delivered"]
    with psycopg.connect(pipeline_env["url"]) as conn:
        queue = {
            r[0]: r[1]
            for r in conn.execute("select queue_id, content_hash from marts.outreach_queue where destination = 'file'")
        }
        suppressed = {r[0] for r in conn.execute("select distinct lower(trim(email)) from raw.consent_suppressions")}
    assert queue, "nothing qualified for the file destination"
    assert {d["queue_id"]: d["content_hash"] for d in delivered} == queue
    assert len(delivered) == len(queue)  # no duplicates
    assert not {d["payload"]["email"] for d in delivered if d["payload"]} & suppressed


def test_each_dag_run_ends_by_rendering_the_report(pipeline_env, first_run) -> None:
    import stat

    from leadflow.settings import get_settings

    report = get_settings().report_dir / "lead-qualification.html"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    for log in ("run1.log", "run2.log"):
        text = (pipeline_env["root"] / log).read_text()
        assert "[DAG TEST] end task task_id=report" in text, log
        assert "report: " in text and str(report) in text
    with psycopg.connect(pipeline_env["url"]) as conn:
        leads = conn.execute("select count(*) from marts.leads").fetchone()[0]
    assert f"<b>{leads:,}</b><span>leads</span>" in report.read_text()


def test_second_run_sends_nothing_new(first_run) -> None:
    assert first_run["second"]["files"] == first_run["first"]["files"]
    assert first_run["second"]["delivered"] == first_run["first"]["delivered"]
    sent, updated, retried, planned = first_run["second"]["last_sync"]
    assert (sent, updated, retried, planned) == (0, 0, 0, 0)


def test_speed_to_lead_reports_delivery_times_after_a_sync(pipeline_env, first_run) -> None:
    with psycopg.connect(pipeline_env["url"]) as conn:
        synced, delivered = conn.execute(
            "select count(*) filter (where s.synced_at is not null), count(l.lead_id) from marts.speed_to_lead s "
            "left join (select distinct lead_id from ops.sync_ledger) l using (lead_id)"
        ).fetchone()
    assert delivered > 0 and synced == delivered  # every delivered lead shows when it was delivered


def test_bad_marts_fail_the_dbt_tests_and_the_gate_and_nothing_is_sent(pipeline_env, first_run) -> None:
    from leadflow.quality.gate import run_gate
    from leadflow.sync.engine import SyncRefused, run_sync
    from leadflow.transform.dbt import DbtFailed, run_dbt

    files_before = first_run["second"]["files"]
    with psycopg.connect(pipeline_env["url"]) as conn:
        # The mart's contract declares a primary key; drop it to let a duplicate through, as a changed model might.
        for (name,) in conn.execute(
            "select conname from pg_constraint where conrelid = 'marts.outreach_queue'::regclass and contype = 'p'"
        ).fetchall():
            conn.execute(f'alter table marts.outreach_queue drop constraint "{name}"')
        conn.execute(
            "insert into marts.outreach_queue select * from marts.outreach_queue where destination = 'file' limit 1"
        )
        conn.execute(
            "update marts.lead_scores set fit_score = 140 where lead_id = (select min(lead_id) from marts.lead_scores)"
        )
        conn.commit()
    # dbt owns keys and ranges: its tests on the two marts name both
    with pytest.raises(DbtFailed) as failure:
        run_dbt(["test", "--select", "outreach_queue lead_scores", "--resource-type", "test"], as_of=first_run["as_of"])
    failed = [line.split()[0] for line in str(failure.value).splitlines() if line.startswith("  test.")]
    assert any(n.startswith("test.leadflow.unique_outreach_queue_queue_id") for n in failed), failed
    assert any(n.startswith("test.leadflow.accepted_range_lead_scores_fit_score") for n in failed), failed
    # the gate owns checks against the raw layer as it is at gate time: a queued address unsubscribes
    with psycopg.connect(pipeline_env["url"]) as conn:
        email, queue_id = conn.execute(
            "select email, queue_id from marts.outreach_queue where destination = 'file' order by queue_id limit 1"
        ).fetchone()
        conn.execute("insert into raw.consent_suppressions (email, reason) values (%s, 'unsubscribed')", (email,))
        conn.commit()
    result = run_gate("injected-run", first_run["as_of"])
    assert not result.success
    [unsubscribed] = [
        f for f in result.failures if (f.suite, f.expectation) == ("outreach_queue", "unexpected_rows_expectation")
    ]
    assert queue_id in unsubscribed.sample_keys
    with pytest.raises(SyncRefused):
        run_sync("injected-run")
    outbox = pipeline_env["root"] / "outbox" / "file"
    assert sorted(p.name for p in outbox.glob("batch-*.jsonl")) == files_before
    assert Path(result.docs_index).exists()


def test_a_failed_dbt_column_test_stops_the_run_before_the_gate_and_nothing_is_sent(pipeline_env, first_run) -> None:
    """A route sent to a destination no sync knows: dbt build fails on outreach_queue's accepted values, so the
    run records no gate pass and the sync refuses it."""
    from leadflow.pipeline import dbt_build_at, outreach_sync_at
    from leadflow.sync.engine import SyncRefused
    from leadflow.transform.dbt import DbtFailed

    files_before = first_run["second"]["files"]
    routes = ("account_executive", "product_led_sales", "sdr_follow_up", "sdr_nurture")
    with pytest.raises(DbtFailed) as failure:
        dbt_build_at(first_run["as_of"], extra_vars={"destinations": {route: ["file", "fax"] for route in routes}})
    failed = [line.split()[0] for line in str(failure.value).splitlines() if line.startswith("  test.")]
    assert [n for n in failed if n.startswith("test.leadflow.accepted_values_outreach_queue_destination")], failed
    with psycopg.connect(pipeline_env["url"]) as conn:
        assert conn.execute("select count(*) from marts.outreach_queue where destination = 'fax'").fetchone()[0] > 0
        assert conn.execute("select count(*) from ops.quality_runs where run_id = 'bad-build'").fetchone()[0] == 0
    with pytest.raises(SyncRefused):
        outreach_sync_at("bad-build")
    outbox = pipeline_env["root"] / "outbox" / "file"
    assert sorted(p.name for p in outbox.glob("batch-*.jsonl")) == files_before
