"""The sync engine against a hand-made outreach_queue on the real embedded PostgreSQL."""

from __future__ import annotations

import json

import psycopg
import pytest

from leadflow.quality import record
from leadflow.settings import get_settings
from leadflow.sync.destinations import Delivery
from leadflow.sync.engine import SyncRefused, run_sync, sync_destination
from leadflow.warehouse.db import ensure_ops_schema


def make_queue(url: str, rows: list[tuple[str, str, str]], suppressed: tuple[str, ...] = ()) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_ops_schema(conn)
        conn.execute("create schema if not exists marts")
        conn.execute("drop table if exists marts.outreach_queue")
        conn.execute(
            "create table marts.outreach_queue (queue_id text primary key, lead_id text, destination text, "
            "email text, payload jsonb, content_hash text)"
        )
        conn.execute(
            "create table if not exists raw.consent_suppressions (email text, reason text, added_at timestamptz)"
        )
        for lead_id, email, content in rows:
            payload = json.dumps({"email": email, "content": content})
            conn.execute(
                "insert into marts.outreach_queue values (%s, %s, 'file', %s, %s, md5(%s))",
                (f"{lead_id}:file", lead_id, email, payload, payload),
            )
        for email in suppressed:
            conn.execute("insert into raw.consent_suppressions values (%s, 'unsubscribed', now())", (email,))
        record(conn, "ok", "s", 1, [])
        record(conn, "bad", "s", 1, ["a check failed"])


def delivered(home) -> list[dict]:
    return [
        json.loads(x) for p in sorted((home / "outbox" / "file").glob("*.jsonl")) for x in p.read_text().splitlines()
    ]


def test_only_new_or_changed_leads_are_sent(warehouse: str, home) -> None:
    make_queue(warehouse, [("L1", "a@x.com", "v1"), ("L2", "b@x.com", "v1")])
    [first] = run_sync("ok")
    assert (first.planned, first.sent) == (2, 2)
    [again] = run_sync("ok")
    assert (again.planned, again.unchanged) == (0, 2)
    make_queue(warehouse, [("L1", "a@x.com", "v2"), ("L2", "b@x.com", "v1")])
    [changed] = run_sync("ok")
    assert (changed.planned, changed.updated, changed.unchanged) == (1, 1, 1)
    assert [d["lead_id"] for d in delivered(home)].count("L1") == 2


def test_lead_that_stops_qualifying_is_removed_once(warehouse: str, home) -> None:
    make_queue(warehouse, [("L1", "a@x.com", "v1"), ("L2", "b@x.com", "v1")])
    run_sync("ok")
    make_queue(warehouse, [("L2", "b@x.com", "v1")])
    [report] = run_sync("ok")
    assert report.removed == 1
    assert [d for d in delivered(home) if d["action"] == "remove"][0]["lead_id"] == "L1"
    [report] = run_sync("ok")
    assert report.removed == 0 and report.planned == 0


def test_suppressed_email_is_never_sent_even_if_queued(warehouse: str, home) -> None:
    make_queue(warehouse, [("L1", "a@x.com", "v1"), ("L2", "b@x.com", "v1")], suppressed=(" B@X.com ",))
    [report] = run_sync("ok")
    assert report.suppressed == 1
    assert {d["lead_id"] for d in delivered(home)} == {"L1"}


def test_no_send_without_a_passing_gate(warehouse: str, home) -> None:
    make_queue(warehouse, [("L1", "a@x.com", "v1")])
    for run_id in ("bad", "never-validated"):
        with pytest.raises(SyncRefused):
            run_sync(run_id)
    assert delivered(home) == []


def test_rejected_record_is_retried_every_run_even_unchanged(warehouse: str, home) -> None:
    make_queue(warehouse, [("L1", "a@x.com", "v1"), ("L2", "b@x.com", "v1")])

    class Flaky:
        name, batch_size = "file", 100

        def __init__(self, reject: set[str]):
            self.reject = reject
            self.seen: list[str] = []

        def deliver(self, records: list[dict]) -> Delivery:
            self.seen += [r["lead_id"] for r in records]
            return Delivery(
                accepted=[r["queue_id"] for r in records if r["lead_id"] not in self.reject],
                rejected={r["queue_id"]: "invalid owner" for r in records if r["lead_id"] in self.reject},
            )

    with psycopg.connect(warehouse, autocommit=True) as conn:
        report, _ = sync_destination(conn, Flaky({"L2"}), "ok")
        assert (report.sent, report.rejected) == (1, 1)
        assert conn.execute("select reason from ops.sync_dead_letter").fetchone()[0] == "invalid owner"
        retry = Flaky(set())
        report, _ = sync_destination(conn, retry, "ok")
        assert retry.seen == ["L2"] and report.retried == 1
        assert conn.execute("select count(*) from ops.sync_dead_letter").fetchone()[0] == 0


def test_dry_run_stores_the_diff_and_sends_nothing(warehouse: str, home) -> None:
    make_queue(warehouse, [("L1", "a@x.com", "v1")])
    with psycopg.connect(warehouse, autocommit=True) as conn:
        from leadflow.sync.engine import build_destination

        report, diff = sync_destination(conn, build_destination("file", get_settings()), "ok", dry_run=True)
        assert [d["action"] for d in diff] == ["create"]
        assert conn.execute("select action, detail from ops.sync_log").fetchall() == [("create", "dry run")]
        assert conn.execute("select count(*) from ops.sync_ledger").fetchone()[0] == 0
    assert delivered(home) == []


def test_dead_letter_of_a_lead_that_left_the_queue_is_dropped(warehouse: str, home) -> None:
    make_queue(warehouse, [("L1", "a@x.com", "v1"), ("L2", "b@x.com", "v1")])

    class RejectL2:
        name, batch_size = "file", 100

        def deliver(self, records: list[dict]) -> Delivery:
            return Delivery(
                accepted=[r["queue_id"] for r in records if r["lead_id"] != "L2"],
                rejected={r["queue_id"]: "invalid owner" for r in records if r["lead_id"] == "L2"},
            )

    with psycopg.connect(warehouse, autocommit=True) as conn:
        sync_destination(conn, RejectL2(), "ok")
        make_queue(warehouse, [("L1", "a@x.com", "v1")])
        report, diff = sync_destination(conn, RejectL2(), "ok")
        assert (report.obsolete, report.planned) == (1, 0)
        assert conn.execute("select count(*) from ops.sync_dead_letter").fetchone()[0] == 0
        assert (
            conn.execute("select detail from ops.sync_log where action = 'obsolete'")
            .fetchone()[0]
            .startswith("dead letter dropped")
        )


def test_a_failing_destination_keeps_its_batch_pending_and_the_next_run_resumes(warehouse: str, home) -> None:
    make_queue(warehouse, [(f"L{i}", f"l{i}@x.com", "v1") for i in range(5)])

    class Broken:
        name, batch_size = "file", 2
        calls = 0  # across instances: the second batch ever fails, once

        def deliver(self, records: list[dict]) -> Delivery:
            Broken.calls += 1
            if Broken.calls == 2:
                raise RuntimeError("destination client bug")
            return Delivery(accepted=[r["queue_id"] for r in records])

    with psycopg.connect(warehouse, autocommit=True) as conn:
        report, _ = sync_destination(conn, Broken(), "ok")
        assert (report.status, report.sent, report.deferred) == ("failed", 2, 3)
        assert "destination client bug" in report.error
        assert conn.execute("select count(*) from ops.sync_pending").fetchone()[0] == 2  # sent, outcome unknown
        row = conn.execute("select status, planned, sent, error from ops.sync_runs").fetchone()
        assert row[:3] == ("failed", 5, 2) and "bug" in row[3]
        again, _ = sync_destination(conn, Broken(), "ok")
        assert (again.status, again.sent, again.resumed) == ("ok", 3, 2)
        assert conn.execute("select count(*) from ops.sync_pending").fetchone()[0] == 0
        accounted = again.sent + again.updated + again.retried + again.removed + again.rejected + again.deferred
        assert accounted == again.planned
