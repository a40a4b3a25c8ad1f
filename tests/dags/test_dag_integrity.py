"""Every DAG imports cleanly, is owned, tagged and retried, and does no I/O while being parsed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert dagbag.dags, "no DAG found in dags/"


def test_every_dag_has_owner_tags_and_retries(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"
            if task.task_id != "quality_gate":  # a failed gate is a verdict, not a flake: never retried
                assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


SOURCES = ("crm", "web", "marketing", "product", "conversations", "quiz", "consent")


def test_pull_dag_has_one_parallel_task_per_source_each_updating_its_asset(dagbag) -> None:
    dag = dagbag.dags["leadflow_pull"]
    assert {t.task_id for t in dag.tasks} == {f"pull_{s}" for s in SOURCES}
    for source in SOURCES:
        task = dag.get_task(f"pull_{source}")
        assert task.upstream_task_ids == set(), "pulls run in parallel"
        assert [a.uri for a in task.outlets] == [f"leadflow://raw/{source}"]
        # a readable name and a description in the Assets view, not the URI twice
        (asset,) = task.outlets
        assert asset.name != asset.uri and asset.name.startswith("Raw ") and asset.group == "leadflow raw sources"
        assert asset.extra["description"] and asset.extra["tables"]


def test_pipeline_is_scheduled_on_every_raw_asset_and_gates_the_sync(dagbag) -> None:
    from airflow.sdk import AssetAll

    dag = dagbag.dags["leadflow_pipeline"]
    schedule = dag.timetable.asset_condition
    assert isinstance(schedule, AssetAll), "the pipeline waits for all sources, not any one"
    assert {a.uri for a in schedule.objects} == {f"leadflow://raw/{s}" for s in SOURCES}
    assert {t.task_id for t in dag.tasks} == {"dbt_build", "quality_gate", "outreach_sync", "report"}
    assert dag.get_task("quality_gate").upstream_task_ids == {"dbt_build"}
    assert dag.get_task("outreach_sync").upstream_task_ids == {"quality_gate"}
    # The report renders at the end of every run, a failed gate included, without deciding the run's state.
    report = dag.get_task("report")
    assert report.upstream_task_ids == {"outreach_sync"} and report.is_teardown
    assert [a.uri.rstrip("/") for a in dag.get_task("dbt_build").outlets] == ["leadflow://marts"]
    assert [a.name for a in dag.get_task("dbt_build").outlets] == ["Lead qualification marts"]


def test_parsing_does_no_io() -> None:
    """Import each DAG file under an audit hook: no sockets, subprocesses or files outside code paths."""
    probe = textwrap.dedent(
        f"""
        import sys, runpy
        import airflow.sdk, pendulum, leadflow  # the imports themselves may read their own code
        events = []
        code_roots = (sys.prefix, sys.base_prefix, {str(REPO / "plugins")!r}, {str(DAGS)!r})
        def hook(event, args):
            if event in ("socket.connect", "subprocess.Popen", "os.system"):
                events.append((event, str(args)[:120]))
            elif event == "open" and isinstance(args[0], str) and not args[0].startswith(code_roots):
                if not args[0].endswith((".py", ".pyc", ".so")):
                    events.append((event, args[0]))
        paths = sorted(__import__("pathlib").Path({str(DAGS)!r}).glob("*.py"))
        for path in paths:  # warm-up: lazy imports inside Airflow may probe the platform once
            runpy.run_path(str(path))
        sys.addaudithook(hook)
        for path in paths:  # what a parse does every time the DAG processor re-reads the file
            runpy.run_path(str(path))
        print(events)
        """
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout[-2000:]


def test_learn_dag_trains_weekly_and_only_proposes(dagbag) -> None:
    dag = dagbag.dags["leadflow_learn"]
    assert [t.task_id for t in dag.tasks] == ["train_and_propose"]
    assert dag.timetable.expression == "0 0 * * 0"  # @weekly
    assert "activate" in (dag.doc_md or "")  # a person activates; the DAG never does


def test_fast_lane_runs_on_the_named_hot_events_asset(dagbag) -> None:
    dag = dagbag.dags["leadflow_fast_lane"]
    (asset,) = dag.timetable.asset_condition.objects
    assert asset.uri == "leadflow://fastlane/hot_events"
    assert asset.name == "Hot lead events" and asset.group == "leadflow fast lane"
    assert asset.extra["description"] and asset.watchers, "the watcher in the triggerer starts the lane"
    (inlet,) = dag.get_task("qualify_and_deliver").inlets
    assert inlet.name == asset.name  # the task reads its events from the same asset
