"""Quality runs: one row per run and suite in ``ops.quality_runs``, which the sync reads before it sends.

The batch gate records one row per Great Expectations suite; the fast lane records its dbt data tests as one
suite. Both write through :func:`record`, so a run's outcome has one shape whoever checked it.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

DBT_PASSED = ("pass", "success")


def record(
    conn: psycopg.Connection,
    run_id: str,
    suite: str,
    evaluated: int,
    failures: list,
    row_counts: dict | None = None,
    warnings: list[str] | None = None,
) -> None:
    """Store (or replace) the outcome of ``suite`` in run ``run_id``: it passed when nothing failed.

    ``failures`` are kept as text, one entry per failed check; ``row_counts`` holds what the next run compares
    with (``rows``, ``ratios``); ``warnings`` never fail the run."""
    _ensure_warnings_column(conn)
    conn.execute(
        "insert into ops.quality_runs (run_id, suite, success, evaluated, failed, details, row_counts, warnings) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s) on conflict (run_id, suite) do update set "
        "success = excluded.success, evaluated = excluded.evaluated, failed = excluded.failed, "
        "details = excluded.details, row_counts = excluded.row_counts, warnings = excluded.warnings, "
        "validated_at = now()",
        (
            run_id,
            suite,
            not failures,
            evaluated,
            len(failures),
            json.dumps([str(f) for f in failures]),
            json.dumps(row_counts or {}),
            json.dumps(warnings or []),
        ),
    )


def dbt_test_outcome(results_file: Path, error: str | None = None) -> tuple[int, list[str]]:
    """(data tests run, failures) of the dbt invocation that wrote ``results_file`` (run_results.json).

    ``error``: dbt's own failure message, kept as the failure when no test failed (dbt stopped before or
    outside its tests)."""
    tests, failed = 0, []
    if results_file.exists():
        for result in json.loads(results_file.read_text()).get("results", []):
            if result.get("unique_id", "").startswith("test."):
                tests += 1
                if result.get("status") not in DBT_PASSED:
                    failed.append(
                        f"{result['unique_id']}: {result.get('status')} {result.get('message') or ''}".strip()
                    )
    return tests, failed or ([error[-2000:]] if error else [])


def _ensure_warnings_column(conn: psycopg.Connection) -> None:
    """ops.quality_runs.warnings on a warehouse created before it existed (ALTER only when needed)."""
    have = conn.execute(
        "select 1 from information_schema.columns where table_schema = 'ops' and table_name = 'quality_runs' "
        "and column_name = 'warnings'"
    ).fetchone()
    if not have:
        conn.execute("alter table ops.quality_runs add column if not exists warnings jsonb not null default '[]'")
