"""
### leadflow fast lane (speed to lead)

A hot-lead event (demo or quote request, a third pricing view, an abandoned checkout, a quiz answer
"this quarter") reaches Slack and Outreach in seconds instead of waiting for the hourly batch. A
watcher in the triggerer polls the hot-event sources every second; each batch of candidates is an
asset event that starts this DAG. Its one task pulls what arrived, builds the batch's own dbt models
for just those people, runs their data tests, and delivers through the batch's sync ledger.

Logic: `plugins/leadflow/fastlane/`. Docs: docs/fast-lane.md.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetWatcher, dag, task

from leadflow import assets
from leadflow.fastlane import lane
from leadflow.fastlane.trigger import HotEventTrigger

hot_events = assets.hot_events(
    watchers=[AssetWatcher(name="leadflow_hot_events", trigger=HotEventTrigger(poll_interval=1.0))],
)


@dag(
    dag_id="leadflow_fast_lane",
    schedule=[hot_events],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # events that arrive meanwhile queue on the asset and start the next run together
    tags=["leadflow", "speed-to-lead"],
    doc_md=__doc__,
    default_args={"owner": "leadflow", "retries": 2, "retry_delay": pendulum.duration(seconds=2)},
)
def leadflow_fast_lane():
    task(task_id="qualify_and_deliver", inlets=[hot_events])(lane.qualify_and_deliver)()


leadflow_fast_lane()
