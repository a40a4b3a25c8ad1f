"""
### leadflow learn (weekly)

Trains a learned score on the warehouse's own outcomes and proposes it: a point-in-time training set
(each lead at days after creation, features as they stood then, label = won within the window after),
an explainable additive model exported as plain points, and a model card in `ops.score_models`.
Nothing changes for leads until a person runs `leadflow model activate <id>`; the next pipeline run
then scores every lead with it (`marts.lead_scores.conversion_probability`).

Logic: `plugins/leadflow/learn/`. Settings: the `learn_*` vars in `dbt_project/dbt_project.yml`.
Docs: docs/learned-scoring.md.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from leadflow.learn.train import train_and_propose


@dag(
    dag_id="leadflow_learn",
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["leadflow", "learned-scoring"],
    doc_md=__doc__,
    default_args={"owner": "leadflow", "retries": 1, "retry_delay": pendulum.duration(minutes=5)},
)
def leadflow_learn():
    task(task_id="train_and_propose")(train_and_propose)()


leadflow_learn()
