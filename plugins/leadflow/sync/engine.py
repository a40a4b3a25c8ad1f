"""Diff ``marts.outreach_queue`` against the delivery ledger and deliver only what changed.

``run_sync`` syncs every configured destination (refusing unless the quality gate passed for the run);
``sync_destination`` runs one: **plan** (``plan_sql``, one query), **send** batch by batch (consent read
again, records marked in ``ops.sync_pending``, a batch refused as a whole split until the bad records
are isolated), **settle** each batch in one transaction (``ops.sync_ledger``, ``ops.sync_dead_letter``,
``ops.sync_log``). The sync writes ``ops`` only; ``marts.speed_to_lead`` reads the ledger live. Design
and guarantees (order, pacing, fail closed, no duplicate, Slack at-least-once): docs/sync.md.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import time
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg.rows import dict_row

from leadflow.connections import redact
from leadflow.http import ServiceError
from leadflow.settings import Settings, current_settings, get_settings
from leadflow.sync.destinations import BatchRejected, Delivery, Destination, destination_from_connection
from leadflow.warehouse.db import connect
from leadflow.warehouse.ops import ensure_ops

log = logging.getLogger(__name__)

SEND_ACTIONS = ("create", "update", "retry", "remove")
FAILPOINT_ENV = "LEADFLOW_SYNC_FAILPOINT"  # (settings.sync_failpoint) tests: "after_deliver:N" / "before_deliver:N" kill -9 the worker


class SyncRefused(RuntimeError):
    """The sync will not send: the quality gate did not pass for this run (or consent cannot be checked)."""


class SyncFailed(RuntimeError):
    """One or more destinations could not finish; what they did deliver is recorded. Raised after all ran."""

    def __init__(self, message: str, reports: list[SyncReport]) -> None:
        super().__init__(message)
        self.reports = reports


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
    resumed: int = 0
    deferred: int = 0
    obsolete: int = 0
    requests: int = 0
    request_retries: int = 0
    rate_limited: int = 0
    status: str = "ok"
    error: str | None = None
    details: dict = field(default_factory=dict)


DEFAULT_QUEUE = "marts.outreach_queue"
_PLAN_TEMPLATE = """
with suppressed as (
    select distinct lower(trim(email)) as email from raw.consent_suppressions where email is not null
),
queued as (
    select
        q.queue_id, q.lead_id, lower(trim(q.email)) as email, q.content_hash, q.payload,
        q.payload ->> 'sla_due_at' as sla_due_at,
        coalesce(q.payload ->> 'primary_type' = 'conversion_qualified', false) as hot,
        l.content_hash as delivered_hash, l.status as ledger_status, l.email as delivered_email,
        coalesce(l.version, 0) as version, l.payload as delivered_payload, l.external_state,
        d.reason as dead_reason, d.attempts as dead_attempts, p.lead_id is not null as pending,
        (s1.email is not null or s2.email is not null) as is_suppressed,
        coalesce(l.status = 'delivered', false) or p.lead_id is not null as live
    from {queue} as q
    left join ops.sync_ledger as l on l.lead_id = q.lead_id and l.destination = %(destination)s
    left join ops.sync_dead_letter as d on d.lead_id = q.lead_id and d.destination = %(destination)s
    left join ops.sync_pending as p on p.lead_id = q.lead_id and p.destination = %(destination)s
    left join suppressed as s1 on s1.email = lower(trim(q.email))
    left join suppressed as s2 on s2.email = lower(trim(q.payload ->> 'email'))
    where q.destination = %(destination)s{scope_queued}
),
plan as (
    select queued.*,
        case
            when is_suppressed and live then 'remove'
            when is_suppressed then 'suppressed'
            when dead_reason is not null then 'retry'
            when ledger_status is distinct from 'delivered' then 'create'
            when pending or delivered_hash is distinct from content_hash then 'update'
            else 'unchanged'
        end as action
    from queued
    union all
    -- held by the destination (or maybe, after an interrupted send) and no longer queued
    select
        coalesce(l.lead_id, p.lead_id) || ':' || %(destination)s, coalesce(l.lead_id, p.lead_id),
        coalesce(l.email, p.email), 'removed', null, null, false,
        l.content_hash, l.status, coalesce(l.email, p.email), coalesce(l.version, 0), l.payload,
        l.external_state, d.reason, d.attempts, p.lead_id is not null, false, true, 'remove'
    from (select * from ops.sync_ledger where destination = %(destination)s) as l
    full join (select * from ops.sync_pending where destination = %(destination)s) as p on p.lead_id = l.lead_id
    left join ops.sync_dead_letter as d
        on d.lead_id = coalesce(l.lead_id, p.lead_id) and d.destination = %(destination)s
    where (l.status = 'delivered' or p.lead_id is not null){scope_held}
        and not exists (
            select 1 from {queue} as q
            where q.destination = %(destination)s and q.lead_id = coalesce(l.lead_id, p.lead_id)
        )
    union all
    -- dead letters of leads that left the queue before ever reaching the destination
    select
        d.lead_id || ':' || %(destination)s, d.lead_id, coalesce(d.email, l.email, ''), d.content_hash, null, null,
        false, l.content_hash, l.status, l.email, coalesce(l.version, 0), null, null, d.reason, d.attempts, false,
        false, false, 'obsolete'
    from ops.sync_dead_letter as d
    left join ops.sync_ledger as l on l.lead_id = d.lead_id and l.destination = d.destination
    left join ops.sync_pending as p on p.lead_id = d.lead_id and p.destination = d.destination
    where d.destination = %(destination)s and l.status is distinct from 'delivered' and p.lead_id is null{scope_dead}
        and not exists (
            select 1 from {queue} as q where q.destination = %(destination)s and q.lead_id = d.lead_id
        )
)
select
    queue_id, lead_id, email, content_hash, sla_due_at, hot, delivered_hash, ledger_status, delivered_email, version,
    dead_reason, dead_attempts, pending, is_suppressed, live, action,
    -- an unchanged lead costs a row of ids, not its payload
    case when action <> 'unchanged' then payload::text end as payload_text,
    case when action <> 'unchanged' then delivered_payload::text end as delivered_payload,
    case when action <> 'unchanged' then external_state::text end as external_state
from plan
order by action = 'remove' desc, hot desc, sla_due_at nulls last, lead_id
"""


def plan_sql(queue: str = DEFAULT_QUEUE, scoped: bool = False) -> str:
    """The plan query over ``queue``; ``scoped`` limits it (removals and dead letters too) to ``%(lead_ids)s``.

    Every queued lead is ``create`` (the destination does not hold it), ``update`` (content hash changed, or
    a send of it was interrupted), ``retry`` (in ``ops.sync_dead_letter``: retried every run until it
    succeeds, changed or not), ``unchanged`` or ``suppressed``; a lead the destination holds that left the
    queue, or whose e-mail is now suppressed, is ``remove``; a dead letter whose lead left the queue before
    ever being delivered is ``obsolete``.

    A scoped sync (the fast lane delivering a few leads from its own queue) must never read the absence of
    every other lead from its queue as "left the queue".
    """
    if not re.fullmatch(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*", queue):
        raise ValueError(f"queue must be a schema.table name, not {queue!r}")
    scope = {"scope_queued": "", "scope_held": "", "scope_dead": ""}
    if scoped:
        scope = {
            "scope_queued": " and q.lead_id = any(%(lead_ids)s)",
            "scope_held": " and coalesce(l.lead_id, p.lead_id) = any(%(lead_ids)s)",
            "scope_dead": " and d.lead_id = any(%(lead_ids)s)",
        }
    return _PLAN_TEMPLATE.format(queue=queue, **scope)


PLAN_SQL = plan_sql()

SUPPRESSED_NOW_SQL = """
select distinct lower(trim(email)) from raw.consent_suppressions
where lower(trim(email)) in (select jsonb_array_elements_text(%s::jsonb))
"""

LEDGER_UPSERT_SQL = """
insert into ops.sync_ledger as l (
    lead_id, destination, email, content_hash, status, first_delivered_at, delivered_at, sync_run_id,
    payload, external_state, version, qualified_at, qualification_delivered_at, removed_at
)
select
    u.lead_id, %(destination)s, u.email, u.content_hash, 'delivered', %(at)s, %(at)s, %(run)s,
    u.payload, nullif(u.state, 'null'::jsonb), 1, u.qualified_at, %(at)s, null
from jsonb_to_recordset(%(rows)s::jsonb)
    as u (lead_id text, email text, content_hash text, payload jsonb, state jsonb, qualified_at timestamptz)
on conflict (lead_id, destination) do update set
    email = excluded.email,
    content_hash = excluded.content_hash,
    status = 'delivered',
    delivered_at = excluded.delivered_at,
    first_delivered_at = coalesce(l.first_delivered_at, excluded.first_delivered_at),
    qualification_delivered_at = case
        when l.status = 'delivered' and l.qualified_at is not distinct from excluded.qualified_at
            then coalesce(l.qualification_delivered_at, excluded.qualification_delivered_at)
        else excluded.qualification_delivered_at
    end,
    qualified_at = excluded.qualified_at,
    payload = excluded.payload,
    external_state = coalesce(excluded.external_state, l.external_state),
    version = l.version + 1,
    sync_run_id = excluded.sync_run_id,
    removed_at = null
"""

LEDGER_REMOVE_SQL = """
insert into ops.sync_ledger as l (
    lead_id, destination, email, content_hash, status, sync_run_id, external_state, version, removed_at
)
select u.lead_id, %(destination)s, u.email, 'removed', 'removed', %(run)s, nullif(u.state, 'null'::jsonb), 1, %(at)s
from jsonb_to_recordset(%(rows)s::jsonb) as u (lead_id text, email text, state jsonb)
on conflict (lead_id, destination) do update set
    content_hash = 'removed',
    status = 'removed',
    removed_at = excluded.removed_at,
    external_state = coalesce(excluded.external_state, l.external_state),
    version = l.version + 1,
    sync_run_id = excluded.sync_run_id
"""

DEAD_LETTER_SQL = """
insert into ops.sync_dead_letter as d (lead_id, destination, content_hash, reason, action, email, last_sync_run_id)
select u.lead_id, %(destination)s, u.content_hash, u.reason, u.action, u.email, %(run)s
from jsonb_to_recordset(%(rows)s::jsonb)
    as u (lead_id text, content_hash text, reason text, action text, email text)
on conflict (lead_id, destination) do update set
    content_hash = excluded.content_hash,
    reason = excluded.reason,
    action = excluded.action,
    email = excluded.email,
    attempts = d.attempts + 1,
    last_failed_at = now(),
    last_sync_run_id = excluded.last_sync_run_id
"""

PENDING_SQL = """
insert into ops.sync_pending (lead_id, destination, email, action, content_hash, idempotency_key, sync_run_id)
select u.lead_id, %(destination)s, u.email, u.action, u.content_hash, u.idempotency_key, %(run)s
from jsonb_to_recordset(%(rows)s::jsonb)
    as u (lead_id text, email text, action text, content_hash text, idempotency_key text)
on conflict (lead_id, destination) do update set
    email = excluded.email, action = excluded.action, content_hash = excluded.content_hash,
    idempotency_key = excluded.idempotency_key, sync_run_id = excluded.sync_run_id, started_at = now()
"""

DELETE_DEAD_SQL = """
delete from ops.sync_dead_letter
where destination = %s and lead_id in (select jsonb_array_elements_text(%s::jsonb))
"""

DELETE_PENDING_SQL = """
delete from ops.sync_pending
where destination = %s and lead_id in (select jsonb_array_elements_text(%s::jsonb))
"""


def gate_passed(conn: psycopg.Connection, run_id: str) -> bool:
    row = conn.execute(
        "select count(*), count(*) filter (where not success) from ops.quality_runs where run_id = %s", (run_id,)
    ).fetchone()
    return row[0] > 0 and row[1] == 0


def build_destination(name: str, settings: Settings) -> Destination:
    """The destination ``name`` from its Airflow connection ``leadflow_<name>`` (``file`` works without one)."""
    if name not in settings.sync_destinations and name != "file":
        log.debug("building destination %s, which is not in sync_destinations", name)
    return destination_from_connection(name, settings)


# --- failpoints (crash tests) ---------------------------------------------------------------------------------

_failpoint_counts: dict[str, int] = {}


def _failpoint(name: str) -> None:
    spec = current_settings().sync_failpoint
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _failpoint_counts[name] = _failpoint_counts.get(name, 0) + 1
    if _failpoint_counts[name] >= int(nth or 1):
        log.warning("failpoint %s reached: killing this worker", spec)
        os.kill(os.getpid(), signal.SIGKILL)


# --- one destination --------------------------------------------------------------------------------------------


@dataclass
class _Batch:
    rows: list[dict]
    records: list[dict]
    resumed: set[str]


def sync_destination(
    conn: psycopg.Connection,
    destination: Destination,
    run_id: str,
    dry_run: bool = False,
    lock_timeout: float = 600,
    queue: str = DEFAULT_QUEUE,
    lead_ids: list[str] | None = None,
) -> tuple[SyncReport, list[dict]]:
    """Sync one destination; returns its report and the record-level diff. Never raises on destination faults:
    they end the run for this destination (status ``failed``, what was settled is kept).

    ``queue`` and ``lead_ids`` scope a run to some leads of another queue table (the fast lane); by default
    the whole of ``marts.outreach_queue`` is synced."""
    started = time.monotonic()
    started_at = datetime.now(UTC)
    report = SyncReport(f"{run_id}:{destination.name}:{uuid.uuid4().hex[:6]}", destination.name, dry_run)
    if not conn.autocommit:
        conn.commit()
        conn.autocommit = True
    locked = False
    diff: list[dict] = []
    stats_before = _stats(destination)
    try:
        if not dry_run:
            locked = _lock(conn, destination.name, lock_timeout)
        plan = _plan(conn, destination.name, queue, lead_ids)
        to_send = [p for p in plan if p["action"] in SEND_ACTIONS]
        report.planned = len(to_send)
        report.unchanged = sum(p["action"] == "unchanged" for p in plan)
        suppressed = [p for p in plan if p["action"] == "suppressed"]
        obsolete = [p for p in plan if p["action"] == "obsolete"]
        report.suppressed = len(suppressed)
        report.obsolete = len(obsolete)
        diff = [_diff_row(p) for p in plan if p["action"] != "unchanged"]
        if dry_run:
            report.status = "dry_run"
            _log(conn, report, [(d["lead_id"], d["action"], d["content_hash"], d["detail"]) for d in diff])
            return report, diff
        _resolve(conn, report, suppressed, obsolete)
        failure = _send(conn, destination, report, to_send)
        if failure is not None:
            report.status = "failed"
            report.error = redact(str(failure))[:2000]
            log.error("sync %s stopped: %s", destination.name, report.error)
        elif report.rejected:
            report.status = "partial"
    except BaseException as exc:
        report.status = "failed"
        report.error = redact(f"{type(exc).__name__}: {exc}")[:2000]
        raise
    finally:
        stats = _stats(destination)
        report.requests = stats.get("requests", 0) - stats_before.get("requests", 0)
        report.request_retries = stats.get("retries", 0) - stats_before.get("retries", 0)
        report.rate_limited = stats.get("rate_limited", 0) - stats_before.get("rate_limited", 0)
        report.deferred = (
            0
            if dry_run
            else report.planned
            - (
                report.sent
                + report.updated
                + report.retried
                + report.removed
                + report.rejected
                + report.details.get("suppressed_at_send", 0)
            )
        )
        report.details.update({k: v - stats_before.get(k, 0) for k, v in stats.items()})
        report.seconds = time.monotonic() - started
        if report.requests and report.seconds:
            report.details["requests_per_second"] = round(report.requests / report.seconds, 3)
        limit = getattr(destination, "rate_limit", None)
        if limit is not None:
            report.details["rate_limit"] = str(limit)
        try:
            _write_run(conn, report, run_id, started_at)
        finally:
            if locked:
                conn.execute("select pg_advisory_unlock(hashtext(%s))", (f"leadflow.sync:{destination.name}",))
    return report, diff


def _stats(destination: Destination) -> dict[str, int]:
    stats = getattr(destination, "stats", None)
    return stats.snapshot() if stats is not None else {}


def _lock(conn: psycopg.Connection, name: str, timeout: float) -> bool:
    """One sync per destination at a time (two would race on the same leads and share one quota)."""
    deadline = time.monotonic() + timeout
    while not conn.execute("select pg_try_advisory_lock(hashtext(%s))", (f"leadflow.sync:{name}",)).fetchone()[0]:
        if time.monotonic() > deadline:
            raise SyncRefused(f"another sync of {name} has been running for over {timeout:.0f}s; not starting")
        time.sleep(0.5)
    return True


def _plan(
    conn: psycopg.Connection, name: str, queue: str = DEFAULT_QUEUE, lead_ids: list[str] | None = None
) -> list[dict]:
    if conn.execute("select to_regclass('raw.consent_suppressions')").fetchone()[0] is None:
        raise SyncRefused("raw.consent_suppressions does not exist: consent cannot be checked, nothing is sent")
    query = PLAN_SQL if queue == DEFAULT_QUEUE and lead_ids is None else plan_sql(queue, lead_ids is not None)
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, {"destination": name, "lead_ids": list(lead_ids or [])}).fetchall()


def _changed_fields(p: dict) -> list[str]:
    if not p["delivered_payload"] or not p["payload_text"]:
        return []
    before, after = json.loads(p["delivered_payload"]), json.loads(p["payload_text"])
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def _diff_row(p: dict) -> dict:
    action = p["action"]
    notes = []
    if action == "update" and p["pending"] and p["delivered_hash"] == p["content_hash"]:
        notes.append("interrupted send, re-sent")
    elif action in ("update", "retry"):
        changed = _changed_fields(p)
        if changed:
            notes.append("changed " + ", ".join(changed))
        elif action == "retry":
            notes.append("unchanged")
    if action == "create" and p["pending"]:
        notes.append("interrupted send, re-sent")
    if p["dead_reason"]:
        notes.append(f"dead letter ({p['dead_attempts']} attempts): {p['dead_reason']}")
    if action == "suppressed":
        notes.append("email is suppressed")
    if action == "obsolete":
        notes.append("left the queue before it was ever delivered")
    return {
        "queue_id": p["queue_id"],
        "lead_id": p["lead_id"],
        "action": action,
        "delivered_hash": p["delivered_hash"],
        "content_hash": "removed" if action == "remove" else p["content_hash"],
        "detail": "dry run" + (": " + "; ".join(notes) if notes else ""),
    }


def _resolve(conn: psycopg.Connection, report: SyncReport, suppressed: list[dict], obsolete: list[dict]) -> None:
    """Dead letters that must not be retried any more: the email is suppressed, or the lead left the queue."""
    rows = [p for p in suppressed if p["dead_reason"]] + obsolete
    with conn.transaction():
        if rows:
            conn.execute(DELETE_DEAD_SQL, (report.destination, _ids(p["lead_id"] for p in rows)))
        _log(
            conn,
            report,
            [(p["lead_id"], "suppressed", p["content_hash"], "email is suppressed; not sent") for p in suppressed]
            + [
                (p["lead_id"], "obsolete", p["content_hash"], "dead letter dropped: no longer queued") for p in obsolete
            ],
        )


def _record(p: dict) -> dict:
    remove = p["action"] == "remove"
    content_hash = "removed" if remove else p["content_hash"]
    previous = None
    if p["ledger_status"] is not None:
        previous = {
            "email": p["delivered_email"],
            "status": p["ledger_status"],
            "payload": json.loads(p["delivered_payload"]) if p["delivered_payload"] else None,
            "external_state": json.loads(p["external_state"]) if p["external_state"] else None,
        }
    return {
        "queue_id": p["queue_id"],
        "lead_id": p["lead_id"],
        "action": "remove" if remove else "upsert",
        "content_hash": content_hash,
        "idempotency_key": f"{p['lead_id']}:{content_hash}:{p['version'] + 1}",
        "email": p["email"],
        "payload": None if remove else _payload(p),
        "first": p["ledger_status"] != "delivered",
        "previous": previous,
    }


def _send(conn: psycopg.Connection, destination: Destination, report: SyncReport, rows: list[dict]):
    """Batches in flight up to the destination's concurrency; settled in order on this thread (the only DB user)."""
    size = max(1, int(destination.batch_size))
    concurrency = max(1, int(getattr(destination, "concurrency", 1) or 1))
    failure: BaseException | None = None
    inflight: deque[tuple[_Batch, Future]] = deque()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"sync-{destination.name}") as pool:
        for start in range(0, len(rows), size):
            if failure is not None:
                break
            batch = _prepare(conn, report, rows[start : start + size])
            if not batch.records:
                continue
            _failpoint("before_deliver")
            inflight.append((batch, pool.submit(_deliver_isolating, destination, batch.records)))
            while len(inflight) >= concurrency:
                failure = _settle(conn, report, *inflight.popleft()) or failure
        while inflight:
            failure = _settle(conn, report, *inflight.popleft()) or failure
    return failure


def _prepare(conn: psycopg.Connection, report: SyncReport, rows: list[dict]) -> _Batch:
    """Consent again, now; then mark the batch "sending" before anything leaves."""
    emails = set()
    for p in rows:
        if p["action"] != "remove":
            emails.add(p["email"])
            emails.add(str(_payload(p).get("email") or "").strip().lower())
    blocked = set()
    if emails:
        blocked = {r[0] for r in conn.execute(SUPPRESSED_NOW_SQL, (_ids(sorted(e for e in emails if e)),)).fetchall()}
    sendable, skipped = [], []
    for p in rows:
        payload_email = "" if p["action"] == "remove" else str(_payload(p).get("email") or "")
        if p["action"] != "remove" and (p["email"] in blocked or payload_email.strip().lower() in blocked):
            skipped.append(p)
        else:
            sendable.append(p)
    records = [_record(p) for p in sendable]
    with conn.transaction():
        if skipped:
            report.suppressed += len(skipped)
            report.details["suppressed_at_send"] = report.details.get("suppressed_at_send", 0) + len(skipped)
            _log(
                conn,
                report,
                [(p["lead_id"], "suppressed", p["content_hash"], "suppressed at send time") for p in skipped],
            )
        if records:
            conn.execute(
                PENDING_SQL,
                {
                    "destination": report.destination,
                    "run": report.sync_run_id,
                    "rows": json.dumps(
                        [
                            {k: r[k] or "" for k in ("lead_id", "email", "action", "content_hash", "idempotency_key")}
                            for r in records
                        ]
                    ),
                },
            )
    return _Batch(sendable, records, {p["queue_id"] for p in sendable if p["pending"]})


def _deliver_isolating(destination: Destination, records: list[dict]) -> Delivery:
    """Deliver; when the destination refuses the whole batch, set aside the records it named, else bisect."""
    try:
        return destination.deliver(records)
    except BatchRejected as exc:
        if len(records) == 1:
            return Delivery(rejected={records[0]["queue_id"]: exc.reason})
        keys = {r["queue_id"] for r in records}
        named = {k: v for k, v in exc.hints.items() if k in keys}
        out = Delivery(rejected=dict(named))
        rest = [r for r in records if r["queue_id"] not in named]
        parts = [rest] if named else [records[: len(records) // 2], records[len(records) // 2 :]]
        for part in parts:
            if not part:
                continue
            try:
                out.merge(_deliver_isolating(destination, part))
            except ServiceError as inner:
                inner.partial = out.merge(inner.partial)
                raise
        return out


def _settle(conn: psycopg.Connection, report: SyncReport, batch: _Batch, future: Future) -> BaseException | None:
    """One transaction per batch: accepted records update ``ops.sync_ledger`` (hash, payload, delivery times,
    the destination's ids), rejected ones go to ``ops.sync_dead_letter`` with the destination's reason, both
    leave ``ops.sync_pending``, every record gets an ``ops.sync_log`` line."""
    failure: BaseException | None = None
    try:
        delivery = future.result()
    except ServiceError as exc:
        delivery, failure = exc.partial or Delivery(), exc
    except Exception as exc:  # a bug in a destination: stop it, keep the batch pending (uncertain)
        log.exception("destination %s failed", report.destination)
        delivery, failure = Delivery(), exc
    at = datetime.now(UTC)
    _failpoint("after_deliver")
    keys = {p["queue_id"] for p in batch.rows}
    accepted = set(delivery.accepted) & keys
    rejected = {k: v for k, v in delivery.rejected.items() if k in keys and k not in accepted}
    if failure is None:  # the destination answered for the whole batch: silence is a rejection
        for k in keys - accepted - rejected.keys():
            rejected[k] = "not acknowledged by the destination"
    records = {r["queue_id"]: r for r in batch.records}
    ups = [p for p in batch.rows if p["queue_id"] in accepted and p["action"] != "remove"]
    removes = [p for p in batch.rows if p["queue_id"] in accepted and p["action"] == "remove"]
    bad = [p for p in batch.rows if p["queue_id"] in rejected]
    settled = [p["lead_id"] for p in batch.rows if p["queue_id"] in accepted or p["queue_id"] in rejected]
    params = {"destination": report.destination, "run": report.sync_run_id, "at": at}
    with conn.transaction():
        if ups:
            rows = [
                {
                    "lead_id": p["lead_id"],
                    "email": p["email"],
                    "content_hash": p["content_hash"],
                    "payload": records[p["queue_id"]]["payload"],
                    "state": delivery.state.get(p["queue_id"]) or None,
                    "qualified_at": records[p["queue_id"]]["payload"].get("qualified_at"),
                }
                for p in ups
            ]
            conn.execute(LEDGER_UPSERT_SQL, {**params, "rows": json.dumps(rows, default=str)})
        if removes:
            rows = [
                {"lead_id": p["lead_id"], "email": p["email"] or "", "state": delivery.state.get(p["queue_id"]) or None}
                for p in removes
            ]
            conn.execute(LEDGER_REMOVE_SQL, {**params, "rows": json.dumps(rows)})
        if accepted:
            conn.execute(DELETE_DEAD_SQL, (report.destination, _ids(p["lead_id"] for p in ups + removes)))
        if bad:
            rows = [
                {
                    "lead_id": p["lead_id"],
                    "content_hash": records[p["queue_id"]]["content_hash"],
                    "reason": redact(rejected[p["queue_id"]])[:2000],
                    "action": records[p["queue_id"]]["action"],
                    "email": p["email"],
                }
                for p in bad
            ]
            conn.execute(DEAD_LETTER_SQL, {**params, "rows": json.dumps(rows)})
        if settled:
            conn.execute(DELETE_PENDING_SQL, (report.destination, _ids(settled)))
        lines = []
        for p in batch.rows:
            k, action = p["queue_id"], p["action"]
            resumed = k in batch.resumed
            note = None
            if resumed:
                note = "re-sent after an interrupted run"
            if k in accepted:
                lines.append((p["lead_id"], action, records[k]["content_hash"], note))
                if action == "create":
                    report.sent += 1
                elif action == "update":
                    report.updated += 1
                elif action == "retry":
                    report.retried += 1
                else:
                    report.removed += 1
                report.resumed += resumed
            elif k in rejected:
                report.rejected += 1
                lines.append((p["lead_id"], "rejected", records[k]["content_hash"], redact(rejected[k])[:2000]))
            else:
                lines.append(
                    (p["lead_id"], "unsettled", records[k]["content_hash"], "destination stopped; still pending")
                )
        _log(conn, report, lines)
    return failure


def _ids(values) -> str:
    return json.dumps(list(values))


def _payload(p: dict) -> dict:
    """The plan row's payload, parsed once."""
    if "payload" not in p:
        p["payload"] = json.loads(p["payload_text"]) if p["payload_text"] else None
    return p["payload"]


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
        "rejected, retried, started_at, finished_at, duration_seconds, status, error, removed, suppressed, resumed, "
        "requests, request_retries, rate_limited, details) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
            report.status,
            report.error,
            report.removed,
            report.suppressed,
            report.resumed,
            report.requests,
            report.request_retries,
            report.rate_limited,
            json.dumps({**report.details, "deferred": report.deferred, "obsolete": report.obsolete}),
        ),
    )


def run_sync(
    run_id: str,
    dry_run: bool = False,
    settings: Settings | None = None,
    require_gate: bool = True,
    queue: str = DEFAULT_QUEUE,
    lead_ids: list[str] | None = None,
    destinations: list[str] | None = None,
) -> list[SyncReport]:
    """Sync every configured destination; refuses when the quality gate did not pass for ``run_id``.

    ``destinations`` (default: the configured ones, in order), ``queue`` and ``lead_ids`` let the fast lane
    deliver a few leads from its own scoped queue through the same ledger (see :func:`sync_destination`).

    A destination that fails (down, misconfigured) does not stop the others; :class:`SyncFailed` is
    raised once all have run, so the Airflow task fails and retries.
    """
    settings = settings or get_settings()
    reports: list[SyncReport] = []
    failures: list[str] = []
    with connect(autocommit=True) as conn:
        ensure_ops(conn)
        if require_gate and not gate_passed(conn, run_id):
            raise SyncRefused(f"run {run_id}: the quality gate has not passed; nothing is sent")
        for name in settings.sync_destinations if destinations is None else destinations:
            try:
                destination = build_destination(name, settings)
            except Exception as exc:
                report = SyncReport(f"{run_id}:{name}:{uuid.uuid4().hex[:6]}", name, dry_run, status="failed")
                report.error = redact(f"not configured: {exc}")
                _write_run(conn, report, run_id, datetime.now(UTC))
                failures.append(f"{name}: {report.error}")
                reports.append(report)
                continue
            try:
                report, _ = sync_destination(conn, destination, run_id, dry_run=dry_run, queue=queue, lead_ids=lead_ids)
            finally:
                close = getattr(destination, "close", None)
                if close is not None:
                    close()
            log.info(
                "sync %s%s: planned %s, sent %s, updated %s, unchanged %s, rejected %s, retried %s, removed %s, "
                "suppressed %s, requests %s (%s retried, %s rate-limited), %s (%.1fs)",
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
                report.requests,
                report.request_retries,
                report.rate_limited,
                report.status,
                report.seconds,
            )
            if report.status == "failed":
                failures.append(f"{name}: {report.error}")
            reports.append(report)
    if failures:
        raise SyncFailed("sync incomplete — " + "; ".join(failures), reports)
    return reports
