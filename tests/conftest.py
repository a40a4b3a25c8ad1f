"""Shared fixtures: a real embedded PostgreSQL for the session, a fresh database per test."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[1]
# Each test session gets its own folder and embedded server, so two sessions never share one.
TEST_HOME = Path(os.environ.get("LEADFLOW_TEST_HOME") or tempfile.mkdtemp(prefix="leadflow-test-"))
DATASETS = REPO.parent / "shared" / "datasets"

# Tests get their own embedded server and folders, so they never touch the demo's data.
os.environ["LEADFLOW_HOME"] = str(TEST_HOME)
os.environ.setdefault("LEADFLOW_EMBEDDED_PORT", "54339")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The demo API of the end-to-end and fast-lane tests: a free port, so two test sessions can run at once.
os.environ.setdefault("LEADFLOW_API_URL", f"http://127.0.0.1:{_free_port()}")
os.environ["AIRFLOW_HOME"] = str(TEST_HOME / "airflow")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
for var in ("LEADFLOW_WAREHOUSE_URL", "PGHOST", "PGDATABASE"):
    os.environ.pop(var, None)


@pytest.fixture(scope="session")
def server_url() -> str:
    """The embedded server (started once per session) — its maintenance database URL."""
    from leadflow.settings import reset_settings
    from leadflow.warehouse.db import embedded

    reset_settings()
    server = embedded()
    url = server.start()
    yield url
    server.destroy()  # leave no server or data behind for the next session or CI run
    if "LEADFLOW_TEST_HOME" not in os.environ:
        shutil.rmtree(TEST_HOME, ignore_errors=True)


@contextmanager
def scratch_warehouse(server_url: str, prefix: str, **env: str) -> Iterator[str]:
    """A new, empty database on the embedded server as LEADFLOW_WAREHOUSE_URL (plus ``env``) for the
    block; the variables are restored and the database dropped afterwards."""
    from leadflow.settings import reset_settings

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = server_url.rsplit("/", 1)[0] + f"/{name}"
    mp = pytest.MonkeyPatch()
    for key, value in {"LEADFLOW_WAREHOUSE_URL": url, **env}.items():
        mp.setenv(key, value)
    reset_settings()
    try:
        yield url
    finally:
        mp.undo()
        reset_settings()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def warehouse(server_url: str) -> str:
    """A fresh, empty database on the embedded server; LEADFLOW_WAREHOUSE_URL points at it."""
    with scratch_warehouse(server_url, "t") as url:
        yield url


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private landing zone and outbox for one test."""
    from leadflow.settings import reset_settings

    monkeypatch.setenv("LEADFLOW_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("LEADFLOW_OUTBOX_DIR", str(tmp_path / "outbox"))
    reset_settings()
    yield tmp_path
    reset_settings()
