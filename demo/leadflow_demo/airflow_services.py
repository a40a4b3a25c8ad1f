"""Run Airflow for real — scheduler, dag-processor, triggerer, api-server as separate processes — for the
fast lane's integration test and benchmark (``AirflowServices``) and for the compose file's services
(tests/test_compose_cluster.py), and stop every process started (``AirflowProcesses``, which both use).

Metadata go to a PostgreSQL database (concurrent writers: scheduler, triggerer, task processes), ports are
picked free so two checkouts never collide, and the DAGs folder holds only the DAGs asked for (the batch
DAGs' own schedules would otherwise start with the scheduler).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from leadflow.runtime import airflow_bin, airflow_env, migrate_metadata
from leadflow.settings import Settings

log = logging.getLogger(__name__)

REPO_DAGS = Path(__file__).resolve().parents[2] / "dags"
COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")
# Latency knobs: the defaults suit an hourly batch, not a lane that must answer in seconds.
FAST_ENV = {
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__API__WORKERS": "1",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AirflowProcesses:
    """Airflow's components, and whatever runs beside them, as named processes: each in its own process group
    with its output in ``logs/<name>.log``, so ``stop()`` ends a component's children too (task processes,
    gunicorn and Celery workers). ``metadata()`` reads Airflow's metadata database at ``meta_url``.

    The fast lane's test and benchmark (``AirflowServices`` below) and tests/test_compose_cluster.py (the compose
    file's services) both launch Airflow through it.
    """

    def __init__(self, logs: Path, meta_url: str = "") -> None:
        self.logs = logs
        self.meta_url = meta_url
        self.processes: dict[str, subprocess.Popen] = {}

    def spawn(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        with (self.logs / f"{name}.log").open("w") as out:  # the child keeps its own copy of the descriptor
            self.processes[name] = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd
            )

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")

    def wait(self, what: str, ready: Callable[[], bool], timeout: float, interval: float = 1.0) -> float:
        """Until ``ready()``, while every process lives; returns the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            self.check_alive()
            if ready():
                return time.monotonic() - started
            time.sleep(interval)
        logs = "\n".join(f"--- {name}:\n{self.tail(name, 1500)}" for name in self.processes)
        raise TimeoutError(f"{what}: not within {timeout:.0f}s (logs in {self.logs})\n{logs}")

    def metadata(self, query: str, params: tuple = ()) -> list[tuple]:
        """Rows from Airflow's metadata database; none while its tables do not exist yet."""
        with psycopg.connect(self.meta_url, autocommit=True) as conn:
            try:
                return conn.execute(query, params).fetchall()
            except psycopg.errors.UndefinedTable:
                return []

    def stop(self, timeout: float = 30) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # whatever is left of its group (task processes, gunicorn and Celery workers)
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.processes.clear()


class AirflowServices(AirflowProcesses):
    """``with AirflowServices(settings, warehouse_url, server_url, dags=[...]) as af: af.wait_for_watcher()``"""

    def __init__(
        self,
        settings: Settings,
        warehouse_url: str,
        server_url: str,
        dags: list[str],
        name: str = "airflow_fastlane",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.root = settings.home_dir / "airflow_services"
        super().__init__(self.root / "logs", server_url.rsplit("/", 1)[0] + f"/{name}")
        self.dags_dir = self.root / "dags"
        self.meta_name = name
        self.server_url = server_url
        port = free_port()
        self.env = {
            **airflow_env(settings, warehouse_url),
            **FAST_ENV,
            "AIRFLOW_HOME": str(self.root / "home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_dir),
            # psycopg 3 for both: it is already installed and has the async API Airflow's api-server needs
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.meta_url.replace("postgresql://", "postgresql+psycopg://", 1),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.meta_url.replace(
                "postgresql://", "postgresql+psycopg://", 1
            ),
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            **(extra_env or {}),
        }
        self.dag_files = dags

    def start(self) -> AirflowServices:
        shutil.rmtree(self.root, ignore_errors=True)
        self.dags_dir.mkdir(parents=True)
        self.logs.mkdir(parents=True)
        (self.root / "home").mkdir()
        for name in self.dag_files:
            shutil.copy(REPO_DAGS / name, self.dags_dir / name)
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{self.meta_name}" with (force)')
            conn.execute(f'create database "{self.meta_name}"')
        migrate_metadata(self.env)
        for component in COMPONENTS:
            self.spawn(component, [airflow_bin(), component], self.env)
        return self

    def wait_for_watcher(self, dag_id: str, timeout: float = 180) -> float:
        """Until the DAG is parsed and its asset watcher runs in the triggerer; returns the seconds waited."""

        def running() -> bool:
            rows = self.metadata(
                "select count(*) from trigger t join asset_watcher w on w.trigger_id = t.id "
                "join dag_schedule_asset_reference r on r.asset_id = w.asset_id "
                "where r.dag_id = %s and t.triggerer_id is not null",
                (dag_id,),
            )
            return bool(rows and rows[0][0] > 0)

        return self.wait(f"the watcher of {dag_id} starts", running, timeout, interval=0.5)

    def dag_runs(self, dag_id: str) -> list[tuple]:
        return self.metadata(
            "select run_id, state, start_date, end_date from dag_run where dag_id = %s order by id", (dag_id,)
        )

    def __enter__(self) -> AirflowServices:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def run_batch_steps(run_id: str, as_of, settings: Settings, sync: bool = True) -> dict[str, float]:
    """The batch pipeline's steps in order — pull every source, ``dbt build``, quality gate, sync — through
    the same public functions its DAG tasks call (for the fast lane's test and benchmark). Returns seconds.

    Unit tests are left to CI here (they check SQL, not data): a unit test failing on another change in
    progress must not keep the marts these measurements read from being built.
    """
    from leadflow.pull.contract import SOURCES
    from leadflow.pull.run import pull_source
    from leadflow.quality.gate import raise_if_failed, run_gate
    from leadflow.sync.engine import run_sync
    from leadflow.transform.dbt import run_dbt

    seconds: dict[str, float] = {}
    started = time.monotonic()
    for source in SOURCES:
        pull_source(source, run_id, as_of, settings)
    seconds["pull"] = time.monotonic() - started
    seconds["dbt_build"] = run_dbt(["build", "--exclude", "resource_type:unit_test"], as_of=as_of, settings=settings)
    if sync:
        started = time.monotonic()
        raise_if_failed(run_gate(run_id, as_of, settings))
        seconds["quality_gate"] = time.monotonic() - started
        started = time.monotonic()
        run_sync(run_id, settings=settings)
        seconds["sync"] = time.monotonic() - started
    return seconds
