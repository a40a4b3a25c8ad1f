"""Orchestration stage: the pipeline through Airflow vs the same calls without it, and vs Cosmos.

Three runs against one freshly loaded warehouse, all through `airflow dags test` (real Airflow, Task
SDK, tasks one after the other):

  ours     leadflow_pull + leadflow_pipeline (pull tasks, one `dbt build` task, gate, sync)
  bare     the same stage functions called directly (measured by bench/run.py, passed in)
  cosmos   bench/dags/leadflow_cosmos.py: the same dbt project in Cosmos's default per-model mode

Task durations come from Airflow's own metadata (task_instance), so the report can say where the
orchestration time goes.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path

import click

BENCH_DAGS = Path(__file__).resolve().parent / "dags"


def timed_dags_test(dag_id: str, as_of: datetime, env: dict[str, str], log: Path, must_succeed: bool = True) -> float:
    """`airflow dags test <dag_id> <as_of>`; returns wall seconds, raises with the log's tail on failure
    (with ``must_succeed=False`` only when the run did not finish at all)."""
    from leadflow.runtime import dags_test

    started = time.monotonic()
    code, state = dags_test(dag_id, as_of, env, log)
    seconds = time.monotonic() - started
    if state is None or (must_succeed and (code != 0 or state != "success")):
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{dag_id} failed under `airflow dags test` (exit {code}); see {log}:\n{tail}")
    return seconds


def task_instances(env: dict[str, str], dag_id: str) -> dict[str, tuple[float, str]]:
    """(duration, state) of the latest run's task instances of one DAG, from Airflow's metadata database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    with engine.connect() as conn:
        run_id = conn.execute(
            text("select run_id from dag_run where dag_id = :d order by id desc limit 1"), {"d": dag_id}
        ).scalar_one()
        rows = conn.execute(
            text("select task_id, duration, state from task_instance where dag_id = :d and run_id = :r"),
            {"d": dag_id, "r": run_id},
        ).all()
    engine.dispose()
    return {task_id: (round(duration or 0.0, 2), state) for task_id, duration, state in rows}


def task_seconds(env: dict[str, str], dag_id: str) -> dict[str, float]:
    return {task_id: seconds for task_id, (seconds, _) in task_instances(env, dag_id).items()}


def measure(url: str, landing: Path, as_of: datetime, bare: dict[str, float], records: int, pids: list[int]):
    """Run ours and Cosmos through Airflow on the warehouse at ``url``; returns the orchestration Stage."""
    from bench.stage import PeakMemory, Stage
    from leadflow.runtime import airflow_env, migrate_metadata
    from leadflow.settings import get_settings
    from leadflow.transform.dbt import dbt_target_dir
    from leadflow.warehouse.db import dbt_env
    from leadflow_demo.api_server import CrmApiServer

    settings = get_settings()
    env = airflow_env(settings, url)
    migrate_metadata(env)
    log = settings.home_dir / "logs" / "bench_orchestration.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    port = int(settings.api_url.rsplit(":", 1)[1])
    with CrmApiServer(root=landing, port=port, max_rps=None), PeakMemory(pids) as mem:
        pull_s = timed_dags_test("leadflow_pull", as_of, env, log)
        click.echo(f"bench: orchestration — leadflow_pull {pull_s:.1f}s")
        pipeline_s = timed_dags_test("leadflow_pipeline", as_of, env, log)
        click.echo(f"bench: orchestration — leadflow_pipeline {pipeline_s:.1f}s")
    ours = pull_s + pipeline_s
    tasks = {**task_seconds(env, "leadflow_pull"), **task_seconds(env, "leadflow_pipeline")}

    cosmos_env = {
        **env,
        **dbt_env(url),
        "AIRFLOW__CORE__DAGS_FOLDER": str(BENCH_DAGS),
        "LEADFLOW_BENCH_AS_OF": as_of.isoformat(),
        "DBT_TARGET_PATH": str(dbt_target_dir(settings)),
        "AIRFLOW__COSMOS__ENABLE_CACHE": "False",  # measure the default cold path every time
        # Rendering runs `dbt ls` while the DAG file is imported: more than Airflow's default 30 s on a
        # loaded 2-core machine (Cosmos's docs advise raising it).
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600",
        # Cosmos looks for `dbt` on PATH (its only non-default input here): the one beside this interpreter.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    }
    # Timed to the end even if a test task fails: Cosmos runs a test with two parents after one of
    # them, so a singular test can see the other parent before its rebuild (a known Cosmos trait).
    cosmos_s = timed_dags_test("leadflow_cosmos", as_of, cosmos_env, log, must_succeed=False)
    cosmos_ti = task_instances(cosmos_env, "leadflow_cosmos")
    cosmos_tasks = {task_id: seconds for task_id, (seconds, _) in cosmos_ti.items()}
    cosmos_not_ok = sorted(task_id for task_id, (_, state) in cosmos_ti.items() if state != "success")
    click.echo(f"bench: orchestration — Cosmos per-model {cosmos_s:.1f}s ({len(cosmos_tasks)} tasks)")

    bare_total = sum(bare.values())
    dbt_in_airflow = tasks.get("dbt_build", 0.0)
    return Stage(
        "orchestration",
        records,
        ours,
        bare_total,
        "the same stage functions called without Airflow",
        mem.mb,
        {
            "target_ratio": 1.15,
            "bare_seconds": {k: round(v, 2) for k, v in bare.items()},
            "airflow_seconds": {"leadflow_pull": round(pull_s, 2), "leadflow_pipeline": round(pipeline_s, 2)},
            "task_seconds": tasks,
            "cosmos_seconds": round(cosmos_s, 2),
            "cosmos_tasks": len(cosmos_tasks),
            "cosmos_tasks_not_successful": cosmos_not_ok,
            "cosmos_task_seconds_sum": round(sum(cosmos_tasks.values()), 2),
            "dbt_build_task_seconds": dbt_in_airflow,
            # The transform as leadflow orchestrates it (one dbt build task) vs Cosmos's per-model DAG.
            # Conservative: our DAG also runs the gate and the sync, Cosmos's runs dbt only.
            "ratio_to_cosmos": round(pipeline_s / cosmos_s, 3) if cosmos_s else None,
            "dbt_task_ratio_to_cosmos": round(dbt_in_airflow / cosmos_s, 3) if cosmos_s else None,
            "cosmos_target_ratio": 0.5,
            "airflow_cpu_count": os.cpu_count(),
        },
    )
