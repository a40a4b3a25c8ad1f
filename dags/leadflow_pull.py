"""
### leadflow pull

Pull the seven go-to-market sources into `raw`, one task per source, in parallel. Each task updates
its Asset (`leadflow://raw/<source>`); `leadflow_pipeline` is scheduled on all seven, so a source that
fails holds the qualification back instead of letting it run on a partial cycle.

The task body is `leadflow.pipeline.pull`; how each source arrives is configured in `sources.yml`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from leadflow import pipeline
from leadflow.assets import RAW


@dag(
    dag_id="leadflow_pull",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["leadflow", "ingestion"],
    doc_md=__doc__,
    default_args={"owner": "leadflow", "retries": 2, "retry_delay": pendulum.duration(seconds=30)},
)
def leadflow_pull():
    for source, asset in RAW.items():
        task(task_id=f"pull_{source}", outlets=[asset])(pipeline.pull)(source=source)


leadflow_pull()
