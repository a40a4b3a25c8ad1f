"""Fixtures for the sync: a realistic outreach_queue, the fake destination APIs, and what each one holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from leadflow.demo.destinations_server import DestinationServers, SlackWebhook
from leadflow.quality import record
from leadflow.warehouse.db import ensure_ops_schema

ROUTES = {
    "account_executive": "conversion_qualified",
    "product_led_sales": "pql",
    "sdr_follow_up": "conversation_qualified",
    "sdr_nurture": "mql",
}
SEQUENCES = {"account_executive": 1, "product_led_sales": 2, "sdr_follow_up": 3, "sdr_nurture": 4}
TEST_RATE = 50  # requests per second at every fake (Slack's 1/s scaled up so tests stay quick)
QUALIFIED_AT = datetime(2026, 5, 20, 9, 30, tzinfo=UTC)


def lead(i: int, **overrides) -> dict:
    route = list(ROUTES)[i % 4]
    row = {
        "lead_id": f"L{i:04d}",
        "email": f"lead{i}@example.com",
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "company_name": f"Company {i % 7}",
        "title": "VP Sales",
        "primary_type": ROUTES[route],
        "route": route,
        "reasons_text": f"reason v1 for {i}",
        "qualified_at": QUALIFIED_AT,
    }
    row.update(overrides)
    row.setdefault("primary_type", ROUTES[row["route"]])
    return row


def payload(row: dict) -> dict:
    sla = row["qualified_at"] + timedelta(minutes=5 if row["primary_type"] == "conversion_qualified" else 1440)
    return {
        "lead_id": row["lead_id"],
        "email": row["email"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "company_name": row["company_name"],
        "title": row["title"],
        "primary_type": row["primary_type"],
        "qualification_types": [row["primary_type"]],
        "route": row["route"],
        "reasons_text": row["reasons_text"],
        "qualified_at": row["qualified_at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sla_due_at": sla.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def make_queue(
    url: str,
    leads: list[dict],
    destinations: tuple[str, ...] = ("file",),
    suppressed: tuple[str, ...] = (),
    slack_hot_only: bool = True,
) -> None:
    """(Re)build marts.outreach_queue like the dbt model: one row per lead × destination of its route."""
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_ops_schema(conn)
        conn.execute("create schema if not exists marts")
        conn.execute("drop table if exists marts.outreach_queue")
        conn.execute(
            "create table marts.outreach_queue (queue_id text primary key, lead_id text, destination text, "
            "email text, payload jsonb, content_hash text, route text, primary_type text, sla_due_at timestamptz, "
            "qualified_at timestamptz)"
        )
        conn.execute(
            "create table if not exists raw.consent_suppressions (email text, reason text, added_at timestamptz)"
        )
        rows = []
        for row in leads:
            body = payload(row)
            for destination in destinations:
                if destination == "slack" and slack_hot_only and row["route"] != "account_executive":
                    continue
                rows.append(
                    (
                        f"{row['lead_id']}:{destination}",
                        row["lead_id"],
                        destination,
                        row["email"],
                        json.dumps(body),
                        row["route"],
                        row["primary_type"],
                        body["sla_due_at"],
                        body["qualified_at"],
                    )
                )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into marts.outreach_queue select %s, %s, %s, %s, p, md5(p::text), %s, %s, %s, %s "
                "from (select %s::jsonb as p) as x",
                [(r[0], r[1], r[2], r[3], r[5], r[6], r[7], r[8], r[4]) for r in rows],
            )
        for email in suppressed:
            conn.execute("insert into raw.consent_suppressions values (%s, 'unsubscribed', now())", (email,))
        record(conn, "ok", "s", 1, [])
        record(conn, "bad", "s", 1, ["a check failed"])


def suppress(url: str, *emails: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for email in emails:
            conn.execute("insert into raw.consent_suppressions values (%s, 'unsubscribed', now())", (email,))


@pytest.fixture
def servers() -> Iterator[DestinationServers]:
    limits = {k: (TEST_RATE, 1.0) for k in ("outreach", "hubspot", "slack", "webhook")}
    with DestinationServers(token="test-token-0123456789", webhook_secret="whsec-test-secret", limits=limits) as srv:
        yield srv


@pytest.fixture
def sync_env(warehouse: str, home: Path, servers: DestinationServers, monkeypatch: pytest.MonkeyPatch):
    """Connections to the fakes, fast retries, every destination configured."""
    from leadflow.settings import reset_settings

    rate = {"requests": TEST_RATE, "per_seconds": 1}
    for key, value in servers.connections(
        SEQUENCES, {k: rate for k in ("outreach", "hubspot", "slack", "webhook")}
    ).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LEADFLOW_SYNC_DESTINATIONS", json.dumps(["file", "hubspot", "outreach", "slack", "webhook"]))
    monkeypatch.setenv("LEADFLOW_SYNC_HTTP_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("LEADFLOW_SYNC_MAX_ATTEMPTS", "6")
    monkeypatch.setenv("LEADFLOW_SYNC_BACKOFF_BASE_SECONDS", "0.01")
    monkeypatch.setenv("LEADFLOW_SYNC_BACKOFF_MAX_SECONDS", "0.05")
    monkeypatch.setenv("LEADFLOW_SYNC_MAX_RETRY_AFTER_SECONDS", "5")
    reset_settings()
    yield {"url": warehouse, "home": home, "servers": servers}
    reset_settings()


def use_destinations(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    from leadflow.settings import reset_settings

    monkeypatch.setenv("LEADFLOW_SYNC_DESTINATIONS", json.dumps(list(names)))
    reset_settings()


# --- what each destination holds -------------------------------------------------------------------------------


def held(servers: DestinationServers, home: Path, destination: str) -> Counter:
    """How many live copies of each lead the destination holds (a duplicate shows as a count of 2)."""
    if destination == "hubspot":
        return Counter(
            c["properties"].get("leadflow_lead_id")
            for c in servers.hubspot.contacts.values()
            if c["properties"].get("leadflow_status") == "qualified"
        )
    if destination == "outreach":
        api = servers.outreach
        active = Counter(s["prospect"] for s in api.states.values() if s["state"] == "active")
        out = Counter()
        for p in api.prospects.values():
            # a lead counts once per prospect and once per active enrolment beyond the first
            if active[p["id"]]:
                out[p["attributes"]["externalId"]] += active[p["id"]]
        per_lead = Counter(p["attributes"]["externalId"] for p in api.prospects.values())
        for lead_id, n in per_lead.items():
            if n > 1:
                out[lead_id] += n - 1
        return out
    if destination == "slack":
        return Counter(SlackWebhook.ref(m) for m in servers.slack.messages)
    if destination == "webhook":
        return _live_copies(servers.webhook.applied)
    if destination == "file":
        lines = [
            json.loads(x)
            for p in sorted((home / "outbox" / "file").glob("batch-*.jsonl"), key=lambda p: p.stat().st_mtime_ns)
            for x in p.read_text().splitlines()
        ]
        return _live_copies(lines)
    raise ValueError(destination)


def _live_copies(records: list[dict]) -> Counter:
    """Per lead, how many times its current content was applied in a row (2+ = delivered twice)."""
    out = Counter()
    last: dict[str, tuple] = {}
    for r in records:
        lead_id = r["lead_id"]
        if r["action"] != "upsert":
            last.pop(lead_id, None)
            out.pop(lead_id, None)
        elif last.get(lead_id) == r["content_hash"]:
            out[lead_id] += 1
        else:
            last[lead_id] = r["content_hash"]
            out[lead_id] = 1
    return out


def expected_for(destination: str, leads: list[dict]) -> Counter:
    if destination == "slack":
        return Counter(r["lead_id"] for r in leads if r["route"] == "account_executive")
    return Counter(r["lead_id"] for r in leads)


def assert_exactly_once(servers: DestinationServers, home: Path, destination: str, leads: list[dict]) -> None:
    got = held(servers, home, destination)
    want = expected_for(destination, leads)
    lost = sorted(set(want) - set(got))
    duplicated = sorted(k for k, n in got.items() if n > 1)
    extra = sorted(set(got) - set(want))
    assert (lost, duplicated, extra) == ([], [], []), (
        f"{destination}: lost {lost}, duplicated {duplicated}, extra {extra}"
    )


def ledger(url: str, destination: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        return {
            r[0]: r[1:]
            for r in conn.execute(
                "select lead_id, status, content_hash, version from ops.sync_ledger where destination = %s",
                (destination,),
            )
        }


def dead_letters(url: str, destination: str | None = None) -> dict[tuple[str, str], tuple]:
    with psycopg.connect(url) as conn:
        return {
            (r[0], r[1]): r[2:]
            for r in conn.execute(
                "select destination, lead_id, reason, attempts from ops.sync_dead_letter "
                "where %(d)s::text is null or destination = %(d)s",
                {"d": destination},
            )
        }


def run_worker(env_extra: dict[str, str], run_id: str = "ok", timeout: float = 120) -> int:
    """run_sync in a separate process (so a test can kill it); returns its exit code (-9 when killed)."""
    env = {**os.environ, **env_extra}
    code = f"from leadflow.sync.engine import run_sync\nrun_sync({run_id!r})\n"
    proc = subprocess.run([sys.executable, "-c", code], env=env, timeout=timeout, capture_output=True, text=True)
    if proc.returncode not in (0, -9):
        raise AssertionError(f"worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.returncode
