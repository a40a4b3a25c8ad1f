"""
### leadflow pipeline

Runs when every source has landed (the seven `leadflow://raw/<source>` Assets that `leadflow_pull`
updates): build the dbt project (staging → scores → qualification marts), validate the marts with
Great Expectations, and sync qualified leads to the outreach destinations. A failed quality gate
stops the sync. Last, whatever happened, `report` renders the lead-qualification report (the
"Lead qualification" view in this UI); it is a teardown, so it never changes the run's outcome.

The task bodies live in `plugins/leadflow/pipeline.py`; settings come from the environment
(`LEADFLOW_*`) and the Airflow connection `leadflow_warehouse`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from leadflow import pipeline
from leadflow.assets import MARTS, all_raw_sources


@dag(
    dag_id="leadflow_pipeline",
    schedule=all_raw_sources(),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["leadflow", "qualification"],
    doc_md=__doc__,
    default_args={"owner": "leadflow", "retries": 2, "retry_delay": pendulum.duration(seconds=30)},
)
def leadflow_pipeline():
    build = task(task_id="dbt_build", outlets=[MARTS])(pipeline.dbt_build)()
    gate = task(task_id="quality_gate", retries=0)(pipeline.quality_gate)()
    sync = task(task_id="outreach_sync")(pipeline.outreach_sync)()
    report = task(task_id="report")(pipeline.report)().as_teardown()
    build >> gate >> sync >> report


leadflow_pipeline()
