"""The sync scoped to a few leads of the fast lane's queue: delivers them, and leaves every other lead alone."""

from __future__ import annotations

import json

import psycopg

from leadflow.quality import record
from leadflow.warehouse.db import ensure_ops_schema


def _queue(conn: psycopg.Connection, table: str, lead_ids: list[str]) -> None:
    schema = table.split(".")[0]
    conn.execute(f"create schema if not exists {schema}")
    conn.execute(f"drop table if exists {table}")
    conn.execute(
        f"create table {table} (queue_id text primary key, lead_id text, destination text, email text, "
        "payload jsonb, content_hash text)"
    )
    for lead_id in lead_ids:
        payload = {
            "lead_id": lead_id,
            "email": f"{lead_id.lower()}@example.com",
            "primary_type": "conversion_qualified",
            "route": "account_executive",
            "qualified_at": "2026-11-29T10:00:00Z",
            "sla_due_at": "2026-11-29T10:05:00Z",
        }
        conn.execute(
            f"insert into {table} values (%s, %s, 'file', %s, %s, md5(%s))",
            (f"{lead_id}:file", lead_id, payload["email"], json.dumps(payload), json.dumps(payload)),
        )


def _ledger(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute("select lead_id, status from ops.sync_ledger where destination = 'file'").fetchall())


def test_scoped_sync_delivers_its_leads_and_removes_no_other(warehouse, home) -> None:
    from leadflow.sync.engine import run_sync

    with psycopg.connect(warehouse, autocommit=True) as conn:
        ensure_ops_schema(conn)
        conn.execute("create schema if not exists raw")
        conn.execute("create table raw.consent_suppressions (email text, reason text)")
        conn.execute("insert into raw.consent_suppressions values ('l4@example.com', 'unsubscribed')")
        _queue(conn, "marts.outreach_queue", ["L1", "L2"])
        record(conn, "batch", "s", 1, [])
        record(conn, "lane", "s", 1, [])
    run_sync("batch", destinations=["file"])
    with psycopg.connect(warehouse, autocommit=True) as conn:
        assert _ledger(conn) == {"L1": "delivered", "L2": "delivered"}
        # The fast lane's queue holds only its own people: L2 again (unchanged), L3 new, L4 suppressed.
        _queue(conn, "fastlane_marts.outreach_queue", ["L3", "L4"])
    reports = run_sync(
        "lane", destinations=["file"], queue="fastlane_marts.outreach_queue", lead_ids=["L2", "L3", "L4"]
    )
    with psycopg.connect(warehouse, autocommit=True) as conn:
        ledger = _ledger(conn)
    # L1 is outside the scope and L2 only left *this* queue: a scoped sync must not read that as removal...
    assert ledger["L1"] == "delivered"
    # ...except for the leads in scope, which are judged like the batch would judge them.
    assert ledger["L2"] == "removed"
    assert ledger["L3"] == "delivered"
    assert "L4" not in ledger  # suppressed: never sent
    assert (reports[0].sent, reports[0].removed, reports[0].suppressed) == (1, 1, 1)
