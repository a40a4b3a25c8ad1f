"""Any subset of the seven sources runs end to end: each source alone, through pull -> dbt build -> gate -> sync.

A sources file that configures one source must still give dbt every raw table it reads (empty ones,
created from the contract by the pipeline itself, not by a test helper), a gate that passes and a
delivery to the file destination. One small demo landing zone serves all seven runs.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
import yaml

from leadflow.pull.contract import ENTITIES, SOURCES
from leadflow_demo.generator import NOT_GENERATED
from tests.conftest import scratch_warehouse

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
LEADS = 60

# How each source arrives in the demo landing zone (sources.yml, plus consent, which it leaves out).
DEMO_SOURCES = {
    "crm": {
        "kind": "rest_api",
        "base_url": "${LEADFLOW_API_URL}",
        "entities": {
            "lead": {"path": "/crm/v3/objects/leads"},
            "account": {"path": "/crm/v3/objects/accounts"},
            "opportunity": {"path": "/crm/v3/objects/opportunities"},
        },
    },
    "conversations": {
        "kind": "rest_api",
        "base_url": "${LEADFLOW_API_URL}",
        "entities": {"conversation": {"path": "/conversations/v3/conversations"}},
    },
    "web": {"kind": "files", "format": "jsonl", "entities": {"event": {"pattern": "web/events_*.jsonl"}}},
    "marketing": {
        "kind": "files",
        "format": "csv",
        "entities": {"engagement": {"pattern": "marketing/engagements_*.csv"}},
    },
    "product": {
        "kind": "sql",
        "url": "sqlite:///${LEADFLOW_LANDING_DIR}/product/app.db",
        "entities": {"user": {"table": "users"}, "event": {"table": "events"}, "workspace": {"table": "workspaces"}},
    },
    "quiz": {"kind": "files", "format": "csv", "entities": {"response": {"pattern": "quiz/responses*.csv"}}},
    "consent": {"kind": "files", "format": "csv", "entities": {"suppression": {"pattern": "consent/suppressions.csv"}}},
}


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory):
    from leadflow.settings import get_settings
    from leadflow_demo.api_server import CrmApiServer
    from leadflow_demo.generator import generate

    root = tmp_path_factory.mktemp("single")
    generate(root / "landing", leads=LEADS, seed=5, as_of=AS_OF)
    port = int(get_settings().api_url.rsplit(":", 1)[1])
    with CrmApiServer(root=root / "landing", port=port):
        yield root


def test_the_demo_sources_file_is_what_this_test_configures() -> None:
    assert set(DEMO_SOURCES) == set(SOURCES)


@pytest.mark.parametrize("source", SOURCES)
def test_one_source_alone_runs_end_to_end(source: str, landing, server_url: str) -> None:
    from leadflow.pull.run import pull_source
    from leadflow.quality.gate import run_gate
    from leadflow.sync.engine import run_sync
    from leadflow.transform.dbt import run_dbt

    sources_file = landing / f"sources.{source}.yml"
    sources_file.write_text(yaml.safe_dump({source: DEMO_SOURCES[source]}))
    env = {
        "LEADFLOW_LANDING_DIR": str(landing / "landing"),
        "LEADFLOW_OUTBOX_DIR": str(landing / f"outbox-{source}"),
        "LEADFLOW_SOURCES_FILE": str(sources_file),
    }
    with scratch_warehouse(server_url, f"one_{source}", **env) as url:
        summary = pull_source(source, "run-1", AS_OF)
        assert summary and all(v["loaded"] > 0 for v in summary.values()), summary
        run_dbt(["build"], as_of=AS_OF)  # fails on a missing raw table (relation does not exist)
        with psycopg.connect(url) as conn:
            present = {
                r[0] for r in conn.execute("select table_schema || '.' || table_name from information_schema.tables")
            }
            assert {e.qualified_table for e in ENTITIES} <= present
            loaded = {e.key: conn.execute(f"select count(*) from {e.qualified_table}").fetchone()[0] for e in ENTITIES}
        generated = {e.key for e in ENTITIES if e.source == source and e.key not in NOT_GENERATED}
        assert {k for k, n in loaded.items() if n} == generated
        gate = run_gate("run-1", AS_OF)
        assert gate.success, [str(f) for f in gate.failures]  # no edit to expectations/ needed
        [report] = run_sync("run-1")
        with psycopg.connect(url) as conn:
            queued = conn.execute("select count(*) from marts.outreach_queue where destination = 'file'").fetchone()[0]
        from leadflow.profile import build_profile

        rules = {r["qualification_type"]: r for r in build_profile(url, AS_OF)["rules"]}
    assert report.sent == queued
    assert rules["pql"]["can_fire"] == (source == "product")  # the profile knows what each source enables
    assert rules["conversation_qualified"]["can_fire"] == (source == "conversations")
    delivered = [line for p in (landing / f"outbox-{source}").rglob("*.jsonl") for line in p.read_text().splitlines()]
    assert len(delivered) == queued
