"""The pipeline's task bodies. The DAG wires them; the CLI and tests call the same functions.

Imports stay inside functions: the DAG processor imports this module on every parse.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

log = logging.getLogger("leadflow.pipeline")

STAGE_ORDER = ("pull", "dbt_build", "quality_gate", "outreach_sync", "report")


def run_context() -> tuple[str, datetime]:
    """(run_id, as_of) of the running Airflow task: as_of is the run's logical date, never the wall clock."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    dag_run = context["dag_run"]
    as_of = context.get("logical_date") or dag_run.run_after
    # A plain datetime: pendulum's arithmetic drops a stdlib tzinfo, which breaks comparisons later.
    return dag_run.run_id, datetime.fromtimestamp(as_of.timestamp(), tz=UTC)


def pull(source: str) -> dict:
    """Pull one source system into raw (one Airflow task per source)."""
    return pull_at(source, *run_context())


def dbt_build() -> float:
    """Build every dbt model, snapshot, seed and test."""
    return dbt_build_at(run_context()[1])


def quality_gate() -> dict:
    """Validate the marts; a failure raises and the sync never runs."""
    return quality_gate_at(*run_context())


def outreach_sync() -> list[dict]:
    """Deliver new and changed qualified leads; refuses unless this run's gate passed."""
    from dataclasses import asdict

    return [asdict(r) for r in outreach_sync_at(run_context()[0])]


def report() -> str | None:
    """Render the lead-qualification report from whatever the run left (also after a failed gate)."""
    return report_now()


# -- the same stages for an explicit run id and as-of (the tasks above, and `leadflow pull` / `leadflow run`) --
def pull_at(source: str, run_id: str, as_of: datetime) -> dict:
    from leadflow.pull.run import pull_source

    return pull_source(source, run_id, as_of)


def dbt_build_at(as_of: datetime, extra_vars: dict | None = None) -> float:
    """``extra_vars``: settings for this build only (dbt ``--vars``, over dbt_project.yml's)."""
    from leadflow.transform.dbt import run_dbt

    return run_dbt(["build"], as_of=as_of, extra_vars=extra_vars)


def quality_gate_at(run_id: str, as_of: datetime, on_result=None) -> dict:
    """The gate; ``on_result(result)`` sees the outcome before a failure raises (the CLI prints it)."""
    from leadflow.quality.alerts import send_alert
    from leadflow.quality.gate import raise_if_failed, run_gate

    result = run_gate(run_id, as_of)
    if on_result is not None:
        on_result(result)
    if not result.success:
        send_alert(f"leadflow quality gate failed for {run_id}: sync stopped", [str(f) for f in result.failures])
    raise_if_failed(result)
    return {
        "checks": result.evaluated,
        "data_docs": str(result.docs_index),
        "rows": result.row_counts,
        "warnings": result.warnings,
    }


def outreach_sync_at(run_id: str) -> list:
    from leadflow.sync.engine import run_sync

    return run_sync(run_id)


def report_now() -> str | None:
    """The report into $LEADFLOW_HOME/report/; None (with a warning) while the warehouse has no marts yet."""
    from leadflow.report import ReportUnavailable, render_report

    try:
        return str(render_report())
    except ReportUnavailable as err:
        log.warning("report: not rendered: %s", err)
        return None
