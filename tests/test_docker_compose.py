"""docker-compose.yml without a Docker engine: valid against the Compose Specification's JSON schema, in step
with the native run, and free of the mistakes that break a real `docker compose up` (tests/test_compose_cluster.py
then starts its services as processes).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from leadflow.runtime import AIRFLOW_COMMANDS, AIRFLOW_SHARED_ENV, airflow_overrides
from leadflow.settings import Settings
from tests.compose import REPO, interpolate, load_compose, raw_compose

# The Compose Specification's schema (compose-spec/compose-spec, schema/compose-spec.json, Apache License 2.0:
# tests/data/LICENSE.compose-spec), as vendored by the check-jsonschema 0.39.0 wheel on PyPI
# (check_jsonschema/builtin_schemas/vendor/compose-spec.json). No package ships it to import and the tests run
# offline, so it is copied here unchanged.
SCHEMA = json.loads((REPO / "tests" / "data" / "compose-spec.json").read_text())
COMPOSE = load_compose(profiles=("celery",))
DEFAULT = load_compose()  # `docker compose up` with no profile and no .env
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
)
SHARED_SECRETS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY")


def _errors(document: dict) -> list[str]:
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_the_file_validates_against_the_compose_specification() -> None:
    assert _errors(raw_compose()) == []
    assert _errors(load_compose(profiles=("celery",))) == []


def test_the_schema_check_catches_a_broken_file() -> None:
    broken = raw_compose()
    broken["services"]["airflow-scheduler"]["healthcheck"]["intervall"] = "30s"
    broken["services"]["postgres"]["depends_on"] = {"redis": {"condition": "when_ready"}}
    errors = _errors(broken)
    assert any("intervall" in e for e in errors) and any("when_ready" in e for e in errors), errors


def test_official_layout_and_mounts() -> None:
    services = COMPOSE["services"]
    assert {"postgres", "redis", "leadflow-api", *AIRFLOW_SERVICES} <= set(services)
    for name in AIRFLOW_SERVICES:
        mounts = {v.split(":")[0]: v.split(":")[1] for v in services[name]["volumes"]}
        assert {"./dags", "./plugins", "./dbt_project", "./expectations", "./.leadflow", "./logs"} <= set(mounts)
        assert mounts["./logs"] == services[name]["environment"]["AIRFLOW__LOGGING__BASE_LOG_FOLDER"], name
    for name, command in [
        ("airflow-apiserver", "api-server"),
        ("airflow-scheduler", "scheduler"),
        ("airflow-dag-processor", "dag-processor"),
        ("airflow-triggerer", "triggerer"),
        ("airflow-worker", "celery worker"),
    ]:
        assert services[name]["command"] == command
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    assert "airflow db migrate" in services["airflow-init"]["command"][-1]
    for mount in ("dags", "plugins", "dbt_project", "expectations", "demo", "docker/init-warehouse.sql", "sources.yml"):
        assert (REPO / mount).exists(), mount


def test_only_the_demo_services_have_the_demo_harness_on_their_path() -> None:
    """The demo (leadflow_demo in demo/) is no part of the product: the image does not install it, and of the
    services only the demo API and airflow-init (which generates the demo data) import it, from its mount."""
    demo_services = {"leadflow-api", "airflow-init"}
    for name, service in COMPOSE["services"].items():
        mounts = {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}
        path = [mounts.get(p, p) for p in str((service.get("environment") or {}).get("PYTHONPATH", "")).split(":")]
        assert ("./demo" in path) == (name in demo_services), (name, path)
        if name in demo_services:
            assert "./plugins" in path, (name, path)
    modules = [COMPOSE["services"]["leadflow-api"]["command"][2]]
    modules += re.findall(r"python -m (\S+)", COMPOSE["services"]["airflow-init"]["command"][-1])
    assert modules == ["leadflow_demo.api_server", "leadflow_demo.generator"], modules
    for module in modules:
        assert (REPO / "demo" / (module.replace(".", "/") + ".py")).exists() or (
            REPO / "demo" / module.replace(".", "/") / "__main__.py"
        ).exists(), module


def test_celery_is_a_profile_beside_the_local_executor_default() -> None:
    assert {"redis", "airflow-worker"}.isdisjoint(DEFAULT["services"])
    assert DEFAULT["services"]["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    celery = load_compose({"AIRFLOW_EXECUTOR": "CeleryExecutor"}, profiles=("celery",))
    for name in AIRFLOW_SERVICES:
        env = celery["services"][name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379/")
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert celery["services"]["airflow-worker"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_every_airflow_service_shares_the_secrets() -> None:
    """Unset, each container writes its own airflow.cfg with its own random JWT secret: the api-server then
    refuses the tokens the scheduler signs ("Invalid auth token") and every task fails."""
    for env in ({}, {"AIRFLOW_JWT_SECRET": "s3", "AIRFLOW_API_SECRET_KEY": "k", "AIRFLOW_FERNET_KEY": "f"}):
        services = load_compose(env, profiles=("celery",))["services"]
        for key in SHARED_SECRETS:
            values = {services[name]["environment"].get(key) for name in AIRFLOW_SERVICES}
            assert len(values) == 1 and None not in values, (key, values)
        assert services["airflow-worker"]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] == env.get(
            "AIRFLOW_JWT_SECRET", "leadflow-compose-jwt-secret-change-me"
        )


def test_environment_matches_the_native_run(tmp_path: Path) -> None:
    native = airflow_overrides(Settings(home=tmp_path), "postgresql://u@h/db")
    for name in AIRFLOW_SERVICES:
        env = DEFAULT["services"].get(name, COMPOSE["services"][name])["environment"]
        for key, value in AIRFLOW_SHARED_ENV.items():
            assert str(env[key]) == value, (name, key)
        # Every variable the native run hands Airflow exists in the containers too (values differ by path).
        ours = set(native) - {"AIRFLOW_HOME"}  # the image sets AIRFLOW_HOME itself
        assert ours <= set(env), (name, ours - set(env))


def test_host_ports_and_hosts() -> None:
    services = DEFAULT["services"]
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert not any(re.search(r"(^|:)5432:", p) for p in published), f"host port 5432 clashes: {published}"
    assert "127.0.0.1:5433:5432" in services["postgres"]["ports"]
    for name in AIRFLOW_SERVICES[:-2]:
        assert "host.docker.internal:host-gateway" in services[name]["extra_hosts"], name
    # The demo API is a service of its own; the pull reaches it by its service name.
    assert services["airflow-scheduler"]["environment"]["LEADFLOW_API_URL"] == "http://leadflow-api:8765"
    assert "8765" in services["leadflow-api"]["command"]


def test_init_creates_the_shared_folders_and_hands_them_to_airflow_uid() -> None:
    init = DEFAULT["services"]["airflow-init"]
    script = init["command"][-1]
    assert init["user"] == "0:0"
    assert "mkdir -p /opt/airflow/logs /opt/airflow/.leadflow" in script
    assert 'chown -R "${uid}:0" /opt/airflow/logs /opt/airflow/.leadflow' in script
    assert "AIRFLOW_UID is not set" in script  # the advice, when it is missing
    assert 'uid="50000"' in script  # Compose's default when .env does not set it
    assert (
        'uid="1234"' in interpolate(raw_compose(), {"AIRFLOW_UID": "1234"})["services"]["airflow-init"]["command"][-1]
    )
    for name in AIRFLOW_SERVICES[:-1]:
        assert COMPOSE["services"][name]["env_file"] == [{"path": ".env", "required": False}], name
        assert COMPOSE["services"][name]["user"] == "50000:0"
        assert COMPOSE["services"][name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_one_image_built_once_from_the_runtime_lock() -> None:
    services = COMPOSE["services"]
    builders = [name for name, s in services.items() if "build" in s]
    assert builders == ["airflow-init"], builders
    image = services["airflow-init"]["image"]
    for name in (*AIRFLOW_SERVICES, "leadflow-api"):
        assert services[name]["image"] == image, name
    dockerfile = (REPO / services["airflow-init"]["build"]["dockerfile"]).read_text()
    assert "FROM apache/airflow:slim-3.3.2-python3.11" in dockerfile
    assert "pip install --no-cache-dir -r /opt/leadflow/requirements.runtime.lock" in dockerfile
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert not any(re.search(r"requirements\.lock|\[dev\]|--extra", line) for line in instructions), instructions


def _pins(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.\[\]-]+)==(\S+)", path.read_text(), flags=re.M))


def test_the_runtime_lock_is_the_lock_without_dev_packages() -> None:
    runtime, full = _pins(REPO / "docker" / "requirements.runtime.lock"), _pins(REPO / "requirements.lock")
    assert {k: full.get(k) for k in runtime} == runtime  # the same versions as .venv and CI
    for dev in ("pytest", "ruff", "moto", "hypothesis", "sqlfluff", "astronomer-cosmos", "pytest-timeout"):
        assert dev not in runtime, dev
    for needed in ("apache-airflow", "dbt-core", "great-expectations", "apache-airflow-providers-celery", "celery"):
        assert needed in runtime, needed
    major, minor = map(int, runtime["celery"].split(".")[:2])
    assert (major, minor) < (5, 7), "celery 5.7 breaks apache-airflow-providers-celery 3.26 workers"


@pytest.mark.parametrize("command", AIRFLOW_COMMANDS + ("celery worker",))
def test_compose_commands_exist_in_this_airflow(command: str) -> None:
    airflow = Path(sys.executable).parent / "airflow"
    out = subprocess.run([str(airflow), *command.split(), "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, (command, out.stderr[-500:])
