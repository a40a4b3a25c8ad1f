"""Diff ``marts.outreach_queue`` against the delivery ledger and deliver only what changed.

A lead is sent when it is new for a destination, its content hash changed, or it sits in the dead
letter table (retried every run until it succeeds, changed or not). Leads that stopped qualifying
are sent a ``remove`` action once. Suppressed emails are checked again here, at send time.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg.rows import dict_row

from leadflow.settings import Settings, get_settings
from leadflow.sync.destinations import Destination, FileDestination
from leadflow.warehouse.db import connect, ensure_ops_schema

log = logging.getLogger(__name__)


class SyncRefused(RuntimeError):
    """The sync will not send: the quality gate did not pass for this run."""


@dataclass
class SyncReport:
    sync_run_id: str
    destination: str
    dry_run: bool
    planned: int = 0
    sent: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    retried: int = 0
    removed: int = 0
    suppressed: int = 0
    seconds: float = 0.0


PLAN_SQL = """
with queue as (
    select q.*, (q.payload)::text as payload_text
    from marts.outreach_queue q
    where q.destination = %(destination)s
),
suppressed as (
    select distinct lower(trim(email)) as email from raw.consent_suppressions
)
select
    q.queue_id, q.lead_id, q.email, q.content_hash, q.payload_text,
    l.content_hash as delivered_hash,
    d.lead_id is not null as in_dead_letter,
    s.email is not null as is_suppressed,
    case
        when s.email is not null then 'suppressed'
        when d.lead_id is not null then 'retry'
        when l.lead_id is null then 'create'
        when l.content_hash is distinct from q.content_hash or l.status <> 'delivered' then 'update'
        else 'unchanged'
    end as action
from queue q
left join ops.sync_ledger l on l.lead_id = q.lead_id and l.destination = %(destination)s
left join ops.sync_dead_letter d on d.lead_id = q.lead_id and d.destination = %(destination)s
left join suppressed s on s.email = lower(trim(q.email))
union all
select
    l.destination || ':' || l.lead_id || ':remove', l.lead_id, l.email, 'removed', null,
    l.content_hash, false, false, 'remove'
from ops.sync_ledger l
where l.destination = %(destination)s and l.status = 'delivered'
  and not exists (select 1 from queue q where q.lead_id = l.lead_id)
"""


def gate_passed(conn: psycopg.Connection, run_id: str) -> bool:
    row = conn.execute(
        "select count(*), count(*) filter (where not success) from ops.quality_runs where run_id = %s", (run_id,)
    ).fetchone()
    return row[0] > 0 and row[1] == 0


def build_destination(name: str, settings: Settings) -> Destination:
    if name == "file":
        return FileDestination(name, settings.outbox / "file")
    raise ValueError(f"destination {name!r} is not configured (configured: {settings.sync_destinations})")


def sync_destination(
    conn: psycopg.Connection, destination: Destination, run_id: str, dry_run: bool = False
) -> tuple[SyncReport, list[dict]]:
    started = time.monotonic()
    started_at = datetime.now(UTC)
    report = SyncReport(f"{run_id}:{destination.name}:{uuid.uuid4().hex[:6]}", destination.name, dry_run)
    with conn.cursor(row_factory=dict_row) as cur:
        plan = cur.execute(PLAN_SQL, {"destination": destination.name}).fetchall()
    to_send = [p for p in plan if p["action"] in ("create", "update", "retry", "remove")]
    report.planned = len(to_send)
    report.unchanged = sum(p["action"] == "unchanged" for p in plan)
    report.suppressed = sum(p["action"] == "suppressed" for p in plan)
    diff = [
        {k: p[k] for k in ("queue_id", "lead_id", "action", "delivered_hash", "content_hash")}
        for p in plan
        if p["action"] != "unchanged"
    ]
    if dry_run:
        _log(conn, report, [(p["lead_id"], p["action"], p["content_hash"], "dry run") for p in diff])
        report.seconds = time.monotonic() - started
        _write_run(conn, report, run_id, started_at)
        return report, diff

    for start in range(0, len(to_send), destination.batch_size):
        batch = to_send[start : start + destination.batch_size]
        records = [
            {
                "queue_id": p["queue_id"],
                "lead_id": p["lead_id"],
                "action": "remove" if p["action"] == "remove" else "upsert",
                "content_hash": p["content_hash"],
                "payload": json.loads(p["payload_text"]) if p["payload_text"] else None,
            }
            for p in batch
        ]
        delivery = destination.deliver(records)
        accepted = set(delivery.accepted)
        with conn.transaction():
            for p in batch:
                if p["queue_id"] in accepted:
                    _record_success(conn, report, p)
                else:
                    reason = delivery.rejected.get(p["queue_id"], "not acknowledged by the destination")
                    _record_rejection(conn, report, p, reason)
    report.seconds = time.monotonic() - started
    _write_run(conn, report, run_id, started_at)
    return report, diff


def _record_success(conn: psycopg.Connection, report: SyncReport, p: dict) -> None:
    action = p["action"]
    if action == "remove":
        conn.execute(
            "update ops.sync_ledger set status = 'removed', content_hash = 'removed', delivered_at = now(), "
            "sync_run_id = %s where lead_id = %s and destination = %s",
            (report.sync_run_id, p["lead_id"], report.destination),
        )
        report.removed += 1
    else:
        conn.execute(
            "insert into ops.sync_ledger (lead_id, destination, email, content_hash, status, first_delivered_at, "
            "delivered_at, sync_run_id) values (%s, %s, %s, %s, 'delivered', now(), now(), %s) "
            "on conflict (lead_id, destination) do update set email = excluded.email, "
            "content_hash = excluded.content_hash, status = 'delivered', delivered_at = excluded.delivered_at, "
            "first_delivered_at = coalesce(ops.sync_ledger.first_delivered_at, excluded.first_delivered_at), "
            "sync_run_id = excluded.sync_run_id",
            (p["lead_id"], report.destination, p["email"], p["content_hash"], report.sync_run_id),
        )
        if action == "create":
            report.sent += 1
        elif action == "update":
            report.updated += 1
        else:
            report.retried += 1
    conn.execute(
        "delete from ops.sync_dead_letter where lead_id = %s and destination = %s", (p["lead_id"], report.destination)
    )
    _log(conn, report, [(p["lead_id"], action, p["content_hash"], None)])


def _record_rejection(conn: psycopg.Connection, report: SyncReport, p: dict, reason: str) -> None:
    conn.execute(
        "insert into ops.sync_dead_letter (lead_id, destination, content_hash, reason) values (%s, %s, %s, %s) "
        "on conflict (lead_id, destination) do update set content_hash = excluded.content_hash, "
        "reason = excluded.reason, attempts = ops.sync_dead_letter.attempts + 1, last_failed_at = now()",
        (p["lead_id"], report.destination, p["content_hash"], reason),
    )
    report.rejected += 1
    _log(conn, report, [(p["lead_id"], "rejected", p["content_hash"], reason)])


def _log(conn: psycopg.Connection, report: SyncReport, rows: list[tuple]) -> None:
    if not rows:
        return
    with (
        conn.cursor() as cur,
        cur.copy(
            "copy ops.sync_log (sync_run_id, lead_id, destination, action, content_hash, detail) from stdin"
        ) as cp,
    ):
        for lead_id, action, content_hash, detail in rows:
            cp.write_row((report.sync_run_id, lead_id, report.destination, action, content_hash or "", detail))


def _write_run(conn: psycopg.Connection, report: SyncReport, run_id: str, started_at: datetime) -> None:
    conn.execute(
        "insert into ops.sync_runs (sync_run_id, run_id, destination, dry_run, planned, sent, updated, unchanged, "
        "rejected, retried, started_at, finished_at, duration_seconds) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), %s)",
        (
            report.sync_run_id,
            run_id,
            report.destination,
            report.dry_run,
            report.planned,
            report.sent,
            report.updated,
            report.unchanged,
            report.rejected,
            report.retried,
            started_at,
            report.seconds,
        ),
    )


def run_sync(
    run_id: str, dry_run: bool = False, settings: Settings | None = None, require_gate: bool = True
) -> list[SyncReport]:
    """Sync every configured destination; refuses when the quality gate did not pass for ``run_id``."""
    settings = settings or get_settings()
    reports = []
    with connect(autocommit=True) as conn:
        ensure_ops_schema(conn)
        if require_gate and not gate_passed(conn, run_id):
            raise SyncRefused(f"run {run_id}: the quality gate has not passed; nothing is sent")
        for name in settings.sync_destinations:
            report, _ = sync_destination(conn, build_destination(name, settings), run_id, dry_run=dry_run)
            log.info(
                "sync %s%s: planned %s, sent %s, updated %s, unchanged %s, rejected %s, retried %s, removed %s, "
                "suppressed at send time %s (%.1fs)",
                name,
                " (dry run)" if dry_run else "",
                report.planned,
                report.sent,
                report.updated,
                report.unchanged,
                report.rejected,
                report.retried,
                report.removed,
                report.suppressed,
                report.seconds,
            )
            reports.append(report)
    return reports
