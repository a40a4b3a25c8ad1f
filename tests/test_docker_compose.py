"""docker-compose.yml cannot run here (no Docker engine): parse it and check it matches the native run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from leadflow.runtime import AIRFLOW_COMMANDS, AIRFLOW_SHARED_ENV, airflow_overrides
from leadflow.settings import Settings

REPO = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-init",
)


def test_official_layout_and_mounts() -> None:
    services = COMPOSE["services"]
    assert {"postgres", *AIRFLOW_SERVICES} <= set(services)
    for name in AIRFLOW_SERVICES:
        mounts = {v.split(":")[0] for v in services[name]["volumes"]}
        assert {"./dags", "./plugins", "./dbt_project", "./expectations"} <= mounts, name
    for name, command in [
        ("airflow-apiserver", "api-server"),
        ("airflow-scheduler", "scheduler"),
        ("airflow-dag-processor", "dag-processor"),
        ("airflow-triggerer", "triggerer"),
    ]:
        assert services[name]["command"] == command
    assert services["airflow-init"]["command"][-1] == "airflow db migrate"
    for mount in ("dags", "plugins", "dbt_project", "expectations", "docker/init-warehouse.sql", "sources.yml"):
        assert (REPO / mount).exists(), mount


def test_environment_matches_the_native_run(tmp_path: Path) -> None:
    native = airflow_overrides(Settings(home=tmp_path), "postgresql://u@h/db")
    for name in AIRFLOW_SERVICES:
        env = COMPOSE["services"][name]["environment"]
        for key, value in AIRFLOW_SHARED_ENV.items():
            assert str(env[key]) == value, (name, key)
        # Every variable the native run hands Airflow exists in the containers too (values differ by path).
        ours = set(native) - {"AIRFLOW_HOME"}  # the image sets AIRFLOW_HOME itself
        assert ours <= set(env), (name, ours - set(env))


def test_compose_commands_exist_in_this_airflow() -> None:
    airflow = Path(sys.executable).parent / "airflow"
    for command in AIRFLOW_COMMANDS:
        out = subprocess.run([str(airflow), *command.split(), "--help"], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, (command, out.stderr[-500:])
