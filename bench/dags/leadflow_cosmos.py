"""
### leadflow's dbt project as Cosmos runs it by default (benchmark reference only)

One Airflow task per dbt model, seed and snapshot, each followed by its tests
(`TestBehavior.AFTER_EACH`), local execution, the project rendered with `dbt ls` — Cosmos's
defaults. `bench/orchestration.py` runs it with `airflow dags test` against the warehouse the
benchmark has just loaded and compares it with leadflow's single `dbt build` task.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from cosmos import DbtDag, ProfileConfig, ProjectConfig

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

leadflow_cosmos = DbtDag(
    dag_id="leadflow_cosmos",
    project_config=ProjectConfig(
        dbt_project_path=DBT_DIR,
        dbt_vars={"as_of": os.environ.get("LEADFLOW_BENCH_AS_OF", "")},
        install_dbt_deps=False,
    ),
    profile_config=ProfileConfig(
        profile_name="leadflow", target_name="default", profiles_yml_filepath=DBT_DIR / "profiles.yml"
    ),
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["leadflow", "benchmark"],
    default_args={"owner": "leadflow", "retries": 0},
    doc_md=__doc__,
)
