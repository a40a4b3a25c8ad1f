"""How leadflow runs Airflow natively: the same environment docker-compose.yml gives the containers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from leadflow.settings import Settings

# Airflow settings shared by the native run and docker-compose.yml (tests/test_docker_compose.py checks both).
AIRFLOW_SHARED_ENV = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
}
AIRFLOW_COMMANDS = ("db migrate", "api-server", "scheduler", "dag-processor", "triggerer")


def airflow_overrides(settings: Settings, warehouse_url: str) -> dict[str, str]:
    """What leadflow sets for Airflow natively: local folders, SQLite metadata unless one is configured."""
    home = settings.home_dir / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **AIRFLOW_SHARED_ENV,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.project_dir / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.project_dir / "plugins"),
        "AIRFLOW_CONN_LEADFLOW_WAREHOUSE": warehouse_url,
        "LEADFLOW_WAREHOUSE_URL": warehouse_url,
        "LEADFLOW_PROJECT_DIR": str(settings.project_dir),
        "LEADFLOW_HOME": str(settings.home_dir),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(settings.project_dir / "plugins"), os.environ.get("PYTHONPATH")])
        ),
    }
    # Airflow's own metadata: a SQLite file needs no installation; set the variable to use a server instead.
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = os.environ.get(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}"
    )
    return env


def airflow_env(settings: Settings, warehouse_url: str) -> dict[str, str]:
    """The full environment for ``airflow`` subprocesses."""
    return {**os.environ, **airflow_overrides(settings, warehouse_url)}


def airflow_bin() -> str:
    candidate = Path(sys.executable).parent / "airflow"
    return str(candidate) if candidate.exists() else "airflow"


def migrate_metadata(env: dict[str, str]) -> None:
    """``airflow db migrate`` — idempotent; skipped when this Airflow version already migrated the SQLite file."""
    from importlib.metadata import version

    marker = Path(env["AIRFLOW_HOME"]) / f".migrated-{version('apache-airflow')}"
    if marker.exists() and env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite"):
        return
    result = subprocess.run([airflow_bin(), "db", "migrate"], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    marker.touch()


def dags_test(
    dag_id: str, as_of: datetime, env: dict[str, str], log_file: Path, on_line: Callable[[str], None] | None = None
) -> tuple[int, str | None]:
    """``airflow dags test <dag_id> <as_of>``, its output appended to ``log_file`` (and each line passed
    to ``on_line``); returns the exit code and the run's final state (None if it never finished)."""
    command = [airflow_bin(), "dags", "test", dag_id, as_of.isoformat()]
    finished: list[str] = []
    with log_file.open("a") as out:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        for line in process.stdout:
            out.write(line)
            if "DagRun Finished" in line:
                finished.append(line)
            if on_line is not None:
                on_line(line)
        code = process.wait()
    states = re.findall(r"DagRun Finished: .*?state=(\w+)", "".join(finished))
    return code, states[-1] if states else None
