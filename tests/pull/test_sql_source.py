"""The application database source: incremental with a look-back, schema checks, a dropped connection."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import psycopg
import pytest

from leadflow.pull import batch
from leadflow.pull.readers import SourceError

from .conftest import AS_OF


def app_db(path, users: list[tuple]) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "create table if not exists users (user_id text primary key, email text, workspace_id text, "
            "signed_up_at text, plan text, updated_at text)"
        )
        db.executemany("insert or replace into users values (?, ?, ?, ?, ?, ?)", users)


def user(i: int, updated: str, plan: str = "trial", email: str | None = None) -> tuple:
    return (f"U{i}", email or f"u{i}@acme.com", "W1", "2026-11-01T00:00:00Z", plan, updated)


def test_incremental_pull_reads_only_new_and_changed_rows_plus_the_look_back(env, monkeypatch) -> None:
    db = env.root / "app.db"
    app_db(db, [user(i, f"2026-11-10T{i:02d}:00:00Z") for i in range(10)])
    env.configure({"product": {"kind": "sql", "url": f"sqlite:///{db}", "lookback_hours": 2,
                               "entities": {"user": {"table": "users"}}}})  # fmt: skip
    first = env.pull("product")["product.user"]
    assert (first["read"], first["loaded"], first["quarantined"]) == (10, 10, 0)
    cursor = env.one("select cursor_value from ops.source_cursors where entity = 'user'")
    assert cursor.startswith("2026-11-10T09:00:00")
    # One row changes, one arrives late (inside the look-back), one is new, one bad; the rest are untouched.
    app_db(db, [user(3, "2026-11-11T00:00:00Z", plan="pro"), user(20, "2026-11-10T08:30:00Z"),
                user(21, "2026-11-11T01:00:00Z"), user(22, "2026-11-11T02:00:00Z", email="not-an-email")])  # fmt: skip
    second = env.pull("product", "run-2", AS_OF + timedelta(hours=1))["product.user"]
    # Read: U7, U8, U9 and the late U20 (look-back: at or after 07:00), plus U3, U21, U22.
    assert (second["read"], second["loaded"], second["quarantined"]) == (7, 6, 1)
    assert env.one("select plan from raw.product_users where user_id = 'U3'") == "pro"
    assert env.one("select count(*) from raw.product_users") == 12
    # A re-run of run-2 reads the same window again and changes nothing.
    before = env.snapshot("raw.product_users")
    assert env.pull("product", "run-2", AS_OF + timedelta(hours=1))["product.user"]["read"] == 7
    assert env.snapshot("raw.product_users") == before
    assert [(a[0], a[3], a[4], a[5]) for a in env.audit("product")] == [("run-1", 10, 10, 0), ("run-2", 7, 6, 1)]
    assert env.one("select count(*) from ops.quarantine where run_id = 'run-2'") == 1


def test_a_table_without_a_required_column_fails_naming_table_and_column(env) -> None:
    db = env.root / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table users (user_id text, workspace_id text, signed_up_at text, updated_at text)")
    env.configure({"product": {"kind": "sql", "url": f"sqlite:///{db}", "entities": {"user": {"table": "users"}}}})
    with pytest.raises(SourceError, match=r"product: table users lacks required column\(s\) email"):
        env.pull("product")


def test_a_dropped_connection_fails_cleanly_and_the_retry_loads_everything_once(env, monkeypatch) -> None:
    # The application database is a PostgreSQL database next to the warehouse.
    app_url = env.url.rsplit("/", 1)[0] + "/" + env.url.rsplit("/", 1)[1] + "_app"
    admin = env.url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{app_url.rsplit("/", 1)[1]}"')
    try:
        with psycopg.connect(app_url, autocommit=True) as conn:
            conn.execute(
                "create table users as select 'U' || g as user_id, 'u' || g || '@acme.com' as email, "
                "'W1' as workspace_id, timestamptz '2026-11-01' as signed_up_at, 'trial' as plan, "
                "timestamptz '2026-11-01' + g * interval '1 second' as updated_at from generate_series(1, 30000) g"
            )
        sa_url = app_url.replace("postgresql://", "postgresql+psycopg://")
        env.configure({"product": {"kind": "sql", "url": sa_url, "entities": {"user": {"table": "users"}}}})
        monkeypatch.setattr(batch, "CHUNK_ROWS", 500)
        original = batch.Batcher.flush
        state = {"killed": False}

        def kill_the_connection_once(self) -> None:
            original(self)
            if not state["killed"]:
                state["killed"] = True
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(
                        "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s",
                        (app_url.rsplit("/", 1)[1],),
                    )

        monkeypatch.setattr(batch.Batcher, "flush", kill_the_connection_once)
        with pytest.raises(SourceError, match="SQL table users failed after row"):
            env.pull("product")
        assert env.one("select count(*) from raw.product_users") == 0
        assert env.audit() == []
        env.pull("product")  # the Airflow retry
        assert env.one("select count(*), count(distinct user_id) from raw.product_users") == 30000
        assert [(a[3], a[4], a[5]) for a in env.audit()] == [(30000, 30000, 0)]
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{app_url.rsplit("/", 1)[1]}" with (force)')
