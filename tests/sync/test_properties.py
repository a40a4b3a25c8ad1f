"""Property: no suppressed email is ever delivered — whatever the leads, suppressions, batch sizes and timing."""

from __future__ import annotations

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.sync.destinations import Delivery
from leadflow.sync.engine import run_sync, sync_destination
from tests.sync.conftest import lead, make_queue, suppress, use_destinations

POOL = [f"p{i}@ex.com" for i in range(10)]


def variant(email: str, style: int) -> str:
    return [email, email.upper(), f"  {email} ", email.title()][style]


class Recording:
    """An in-memory destination that asserts, at each delivery, that no record's email is suppressed *now*."""

    name = "file"

    def __init__(self, url: str, batch_size: int, suppress_during: list[str]):
        self.url, self.batch_size, self.suppress_during = url, batch_size, suppress_during
        self.delivered: list[str] = []
        self.violations: list[str] = []  # collected, not raised: deliver runs on the engine's send thread
        self.calls = 0

    def deliver(self, records: list[dict]) -> Delivery:
        with psycopg.connect(self.url) as conn:
            now = {r[0] for r in conn.execute("select lower(trim(email)) from raw.consent_suppressions")}
        for r in records:
            if r["action"] == "upsert":
                if r["email"] in now or r["payload"]["email"].strip().lower() in now:
                    self.violations.append(r["email"])
                self.delivered.append(r["email"])
        self.calls += 1
        if self.calls == 1 and self.suppress_during:  # consent withdrawn while the sync is running
            suppress(self.url, *self.suppress_during)
        return Delivery(accepted=[r["queue_id"] for r in records])


def _fresh(url: str) -> None:
    """Each example starts from an empty ledger and no suppressions."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop table if exists raw.consent_suppressions")
        if conn.execute("select to_regclass('ops.sync_ledger')").fetchone()[0]:
            conn.execute(
                "truncate ops.sync_ledger, ops.sync_pending, ops.sync_dead_letter, ops.sync_log, ops.sync_runs"
            )


leads_strategy = st.lists(
    st.tuples(st.integers(0, len(POOL) - 1), st.integers(0, 2)), min_size=1, max_size=14, unique_by=lambda t: t[0]
)


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    leads=leads_strategy,
    before=st.lists(st.tuples(st.integers(0, len(POOL) - 1), st.integers(0, 3)), max_size=6),
    during=st.lists(st.integers(0, len(POOL) - 1), max_size=4),
    between=st.lists(st.integers(0, len(POOL) - 1), max_size=4),
    batch_size=st.integers(1, 5),
)
def test_no_suppressed_email_is_ever_delivered(warehouse, home, leads, before, during, between, batch_size) -> None:
    _fresh(warehouse)
    rows = [lead(i, email=POOL[i], reasons_text=f"v{version}") for i, version in leads]
    make_queue(warehouse, rows, ("file",), suppressed=tuple(variant(POOL[i], s) for i, s in before))
    with psycopg.connect(warehouse, autocommit=True) as conn:
        dest = Recording(warehouse, batch_size, [variant(POOL[i], 1) for i in during])
        first, _ = sync_destination(conn, dest, "ok")
        assert first.status == "ok" and dest.violations == []
        # more consent withdrawn between runs, content changes: the next run must not send them either
        suppress(warehouse, *(variant(POOL[i], 2) for i in between))
        make_queue(warehouse, [dict(r, reasons_text=r["reasons_text"] + "+") for r in rows], ("file",))
        again = Recording(warehouse, batch_size, [])
        report, _ = sync_destination(conn, again, "ok")
        assert report.status == "ok" and again.violations == []
        gone = {POOL[i] for i, _ in before} | {POOL[i] for i in during} | {POOL[i] for i in between}
        assert not gone & set(again.delivered)
        # every delivered lead whose email is now suppressed was taken out (a removal), not left in outreach
        held = {
            r[0]
            for r in conn.execute(
                "select email from ops.sync_ledger where destination = 'file' and status = 'delivered'"
            )
        }
        assert not held & gone


@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sets(st.integers(0, 19), max_size=8), st.sets(st.integers(0, 19), max_size=5))
def test_no_suppressed_email_reaches_the_fake_apis(sync_env, monkeypatch, suppressed, withdrawn) -> None:
    servers = sync_env["servers"]
    for api in servers.all:
        api.reset(clear=True)
    _fresh(sync_env["url"])
    rows = [lead(i) for i in range(20)]
    make_queue(
        sync_env["url"],
        rows,
        ("hubspot", "outreach", "webhook", "slack"),
        suppressed=tuple(rows[i]["email"].upper() for i in suppressed),
    )
    use_destinations(monkeypatch, "hubspot", "outreach", "webhook", "slack")
    run_sync("ok")
    suppress(sync_env["url"], *(rows[i]["email"] for i in withdrawn))
    run_sync("ok")
    blocked = {rows[i]["email"] for i in suppressed}
    assert not blocked & {c["properties"]["email"] for c in servers.hubspot.contacts.values()}
    assert not blocked & {e for p in servers.outreach.prospects.values() for e in p["attributes"]["emails"]}
    assert not blocked & {r["email"] for r in servers.webhook.applied}
    assert not any(email in str(m) for m in servers.slack.messages for email in blocked)
    # withdrawn after delivery: out of every sequence, marked disqualified, removed at the webhook
    for i in withdrawn - suppressed:
        email = rows[i]["email"]
        pid = servers.outreach.by_email[email]
        assert all(s["state"] == "finished" for s in servers.outreach.states.values() if s["prospect"] == pid)
        contact = servers.hubspot.contacts[servers.hubspot.by_email[email]]
        assert contact["properties"]["leadflow_status"] == "disqualified"
        assert servers.webhook.latest[rows[i]["lead_id"]]["action"] == "remove"
