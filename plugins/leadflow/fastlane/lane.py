"""One fast-lane run: pull what arrived, qualify the affected people with the batch's dbt models, check,
deliver through the batch's sync engine and ledger.

``qualify_and_deliver`` is the DAG's task; ``run_fast_lane`` does one run: **pull** the candidates'
sources (``pull_source``), **scope** their people's raw rows into ``fastlane_raw``
(``leadflow.fastlane.scope``), **qualify** with ``dbt build --selector fastlane --target fastlane``
(``dbt_args``; a failing test delivers nothing; ``_record_quality`` records the outcome), **deliver** with
``run_sync`` over ``fastlane_marts.outreach_queue`` for these leads only, Slack first. ``ops.fastlane_runs``
keeps one row per run. Design: docs/fast-lane.md.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from leadflow.settings import Settings, get_settings

log = logging.getLogger(__name__)

QUEUE = "fastlane_marts.outreach_queue"
SUITE = "fastlane_dbt_tests"
FIRST_DESTINATIONS = ("slack", "outreach")  # the alert first: a person acts on it


@dataclass
class LaneResult:
    run_id: str
    candidates: int
    people: int = 0
    queued: int = 0
    lead_ids: list[str] = field(default_factory=list)
    delivered: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    scoped_rows: dict[str, int] = field(default_factory=dict)
    status: str = "ok"


def dbt_args(settings: Settings) -> list[str]:
    """The scoped build: own target, own artifacts (partial parsing stays warm between runs)."""
    target = settings.home_dir / "dbt_target_fastlane"
    return [
        "build",
        "--selector",
        "fastlane",
        "--target",
        "fastlane",
        "--full-refresh",
        "--target-path",
        str(target),
        "--log-path",
        str(settings.home_dir / "logs" / "dbt_fastlane"),
    ]


def destinations_in_order(settings: Settings) -> list[str]:
    names = list(settings.sync_destinations)
    return [n for n in FIRST_DESTINATIONS if n in names] + [n for n in names if n not in FIRST_DESTINATIONS]


def unique_candidates(candidates: list[dict]) -> list[dict]:
    seen, out = set(), []
    for c in candidates:
        key = (c.get("source"), c.get("event_id"), c.get("signal"))
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def run_fast_lane(candidates: list[dict], run_id: str, settings: Settings | None = None) -> LaneResult:
    """Qualify and deliver the people behind ``candidates``; raises (and delivers nothing) if a check fails."""
    from leadflow.fastlane.scope import copy_scope, ensure_indexes, resolve
    from leadflow.pull.run import pull_source
    from leadflow.sync.engine import run_sync
    from leadflow.transform.dbt import DbtFailed, run_dbt
    from leadflow.warehouse.db import connect, warehouse_url
    from leadflow.warehouse.ops import ensure_ops

    settings = settings or get_settings()
    url = warehouse_url(settings)
    candidates = unique_candidates(candidates)
    result = LaneResult(run_id, len(candidates))
    started_at = datetime.now(UTC)
    clock = time.monotonic()
    detected = [c["detected_at"] for c in candidates if c.get("detected_at")]

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.monotonic()
        result.seconds[stage] = round(now - clock, 3)
        clock = now

    with connect(url, autocommit=True) as conn:
        ensure_ops(conn)
        conn.execute(
            "insert into ops.fastlane_runs (run_id, started_at, status, candidates, first_detected_at) "
            "values (%s, %s, 'running', %s, %s) on conflict (run_id) do update set started_at = excluded.started_at, "
            "status = 'running', error = null",
            (run_id, started_at, len(candidates), min(detected) if detected else None),
        )
    try:
        if not candidates:
            result.status = "nothing_to_do"
            return result
        for source in sorted({c["source"] for c in candidates}):
            pull_source(source, run_id, datetime.now(UTC), settings)
        lap("pull")
        with connect(url, autocommit=True) as conn:
            ensure_indexes(conn)
            scope = copy_scope(conn, resolve(conn, candidates))
        result.people = len(scope.lead_ids)
        result.scoped_rows = scope.rows
        lap("scope")
        if not (scope.lead_ids or scope.emails):
            result.status = "nobody_known"
            return result
        try:
            run_dbt(dbt_args(settings), settings=settings, url=url, extra_vars={"raw_schema": "fastlane_raw"})
        except DbtFailed as exc:
            _record_quality(url, run_id, settings, error=str(exc))
            raise
        tests = _record_quality(url, run_id, settings)
        lap("dbt_build")
        log.info("fast lane %s: dbt build passed with %s data tests", run_id, tests)
        with connect(url, autocommit=True) as conn:
            queued = {r[0] for r in conn.execute(f"select distinct lead_id from {QUEUE}")}
        result.queued = len(queued)
        result.lead_ids = sorted(queued | scope.lead_ids)
        reports = run_sync(
            run_id,
            settings=settings,
            queue=QUEUE,
            lead_ids=result.lead_ids,
            destinations=destinations_in_order(settings),
        )
        result.delivered = {r.destination: r.sent + r.updated + r.retried for r in reports}
        lap("sync")
        return result
    except Exception as exc:
        result.status = "failed"
        _finish(url, result, error=f"{type(exc).__name__}: {exc}"[:4000])
        raise
    finally:
        if result.status != "failed":
            _finish(url, result)


def _record_quality(url: str, run_id: str, settings: Settings, error: str | None = None) -> int:
    """The dbt data tests' outcome as this run's quality run (the sync refuses a run without a pass)."""
    from leadflow.quality import dbt_test_outcome, record
    from leadflow.warehouse.db import connect

    tests, failures = dbt_test_outcome(settings.home_dir / "dbt_target_fastlane" / "run_results.json", error)
    with connect(url, autocommit=True) as conn:
        record(conn, run_id, SUITE, tests, failures)
    return tests


def _finish(url: str, result: LaneResult, error: str | None = None) -> None:
    from leadflow.warehouse.db import connect

    try:
        with connect(url, autocommit=True) as conn:
            conn.execute(
                "update ops.fastlane_runs set finished_at = now(), status = %s, people = %s, queued = %s, "
                "delivered = %s, seconds = %s, error = %s where run_id = %s",
                (
                    result.status,
                    result.people,
                    result.queued,
                    json.dumps(result.delivered),
                    json.dumps(result.seconds),
                    error,
                    result.run_id,
                ),
            )
    except Exception:  # bookkeeping must not hide the run's own outcome
        log.exception("fast lane %s: could not record the run", result.run_id)


LOOKBACK = timedelta(hours=6)  # asset events older than this are the batch's


def qualify_and_deliver() -> dict:
    """The DAG's task: every hot-events asset event no run has processed yet (or ``conf["candidates"]``).

    Runs queue while one is busy (``max_active_runs=1``); the first to start takes everything that arrived
    up to then, and the runs behind it find nothing left and end in a second — bursts cost one dbt build.
    """
    from airflow.sdk import Asset, get_current_context

    from leadflow.assets import HOT_EVENTS_URI
    from leadflow.warehouse.db import connect, warehouse_url
    from leadflow.warehouse.ops import ensure_ops

    context = get_current_context()
    run_id = context["dag_run"].run_id
    url = warehouse_url()
    with connect(url, autocommit=True) as conn:
        ensure_ops(conn)
        done = {
            r[0]
            for r in conn.execute(
                "select event_id from ops.fastlane_asset_events where processed_at > now() - %s", (2 * LOOKBACK,)
            )
        }
    since = (datetime.now(UTC) - LOOKBACK).isoformat()
    events = list(context["inlet_events"][Asset.ref(uri=HOT_EVENTS_URI)].after(since))
    pending = [e for e in events if e.id not in done]
    candidates: list[dict] = []
    for event in pending:
        payload = (event.extra or {}).get("payload") or {}
        for c in payload.get("candidates") or []:
            candidates.append({**c, "detected_at": payload.get("detected_at")})
    candidates.extend((context["dag_run"].conf or {}).get("candidates") or [])
    result = run_fast_lane(candidates, run_id)
    if pending:
        with connect(url, autocommit=True) as conn:
            conn.execute(
                "insert into ops.fastlane_asset_events (event_id, run_id) select unnest(%s::bigint[]), %s "
                "on conflict do nothing",
                ([e.id for e in pending], run_id),
            )
    log.info(
        "fast lane: %s asset events, %s",
        len(pending),
        json.dumps({k: v for k, v in asdict(result).items() if k != "lead_ids"}),
    )
    return asdict(result)
