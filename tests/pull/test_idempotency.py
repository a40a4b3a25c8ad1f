"""Pull twice, and pull after a crash half-way: raw ends exactly as one clean run leaves it."""

from __future__ import annotations

import psycopg
import pytest

from leadflow.pull import batch, loader
from leadflow.pull.contract import ENTITIES, SOURCES
from leadflow.settings import reset_settings
from leadflow_demo.api_server import CrmApiServer
from leadflow_demo.generator import NOT_GENERATED, generate

from .conftest import AS_OF


def state(url: str) -> dict:
    """Everything the pull writes, in a comparable form."""
    with psycopg.connect(url) as conn:
        out = {e.table: conn.execute(f"select * from {e.qualified_table} order by 1, 2").fetchall() for e in ENTITIES}
        out["audit"] = conn.execute(
            "select run_id, source, entity, read, loaded, quarantined from ops.load_audit order by 1, 2, 3"
        ).fetchall()
        out["quarantine"] = conn.execute(
            "select run_id, source, entity, location, record_key, field, reason, payload from ops.quarantine "
            "order by 2, 3, 4, 7"
        ).fetchall()
        out["cursors"] = conn.execute(
            "select source, entity, cursor_value::timestamptz from ops.source_cursors order by 1, 2"
        ).fetchall()
        out["files"] = conn.execute("select source, path, fingerprint from ops.loaded_files order by 1, 2").fetchall()
    return out


def pull_all(env, run_id: str = "run-1") -> None:
    for source in SOURCES:
        env.pull(source, run_id)


@pytest.fixture
def demo(env, monkeypatch):
    generate(env.landing, leads=120, seed=5, as_of=AS_OF)
    with CrmApiServer(root=env.landing, max_rps=None) as api:
        monkeypatch.setenv("LEADFLOW_API_URL", api.url)
        monkeypatch.delenv("LEADFLOW_SOURCES_FILE", raising=False)  # the repository's sources.yml
        reset_settings()
        yield env


def second_database(env, monkeypatch) -> str:
    name = env.url.rsplit("/", 1)[1] + "_b"
    admin = env.url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = env.url.rsplit("/", 1)[0] + f"/{name}"
    monkeypatch.setenv("LEADFLOW_WAREHOUSE_URL", url)
    reset_settings()
    return url


def drop(url: str) -> None:
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{url.rsplit("/", 1)[1]}" with (force)')


def test_pulling_the_same_interval_twice_changes_nothing(demo) -> None:
    pull_all(demo)
    first = state(demo.url)
    assert all(first[e.table] for e in ENTITIES if e.key not in NOT_GENERATED)
    assert first["quarantine"]  # the generator plants bad records
    pull_all(demo)  # Airflow re-runs the run: same run id, same interval
    assert state(demo.url) == first


def test_a_crash_half_way_then_the_retry_equals_one_clean_run(demo, monkeypatch) -> None:
    pull_all(demo)
    clean = state(demo.url)
    crashed = second_database(demo, monkeypatch)
    try:
        # Kill the worker in the middle of the third commit of every source with several units, and in the
        # middle of reading every API / SQL source (after its first chunk went to the warehouse).
        monkeypatch.setattr(batch, "CHUNK_ROWS", 40)
        commits = {"n": 0}
        flushes = {"n": 0}
        original_bookkeeping = loader.RawLoad._bookkeeping
        original_flush = batch.Batcher.flush

        def bookkeeping(self, summary):
            commits["n"] += 1
            if commits["n"] == 3:
                raise RuntimeError("worker killed during commit")
            original_bookkeeping(self, summary)

        def flush(self):
            original_flush(self)
            flushes["n"] += 1
            if flushes["n"] == 2:
                raise RuntimeError("worker killed while reading")

        monkeypatch.setattr(loader.RawLoad, "_bookkeeping", bookkeeping)
        monkeypatch.setattr(batch.Batcher, "flush", flush)
        for source in SOURCES:
            commits["n"] = flushes["n"] = 0
            try:
                demo.pull(source)
            except RuntimeError:
                pass  # the task failed; Airflow retries it
        monkeypatch.setattr(loader.RawLoad, "_bookkeeping", original_bookkeeping)
        monkeypatch.setattr(batch.Batcher, "flush", original_flush)
        with psycopg.connect(crashed) as conn:
            partial = conn.execute("select coalesce(sum(read), 0) from ops.load_audit").fetchone()[0]
        assert 0 < partial < sum(a[3] for a in clean["audit"])  # some units committed before the crashes
        pull_all(demo)  # the retries
        after = state(crashed)
        assert after == clean
    finally:
        drop(crashed)
