import os

import psycopg
import pytest

from leadflow.warehouse.db import dbt_env, embedded, warehouse_url


def test_embedded_server_answers_sql_and_is_reused(server_url: str) -> None:
    with psycopg.connect(server_url) as conn:
        assert conn.execute("select 1 + 1").fetchone()[0] == 2
    server = embedded()
    assert server.running()
    assert server.start() == server_url  # a second start reuses the running server


def test_nothing_configured_means_the_embedded_server(monkeypatch) -> None:
    from leadflow.settings import reset_settings

    for name in ("LEADFLOW_WAREHOUSE_URL", "PGHOST", "PGDATABASE", "AIRFLOW_HOME", "AIRFLOW_CONN_LEADFLOW_WAREHOUSE"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    try:
        assert warehouse_url(start_embedded=False) == embedded().url  # what leadflow.connections resolves comes first
    finally:
        reset_settings()


def test_dbt_env_is_derived_from_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://etl:s3cret@pg.internal:6000/gtm"
    monkeypatch.delenv("LEADFLOW_DBT_THREADS", raising=False)
    env = dbt_env(url)
    assert env == {
        "LEADFLOW_PG_HOST": "pg.internal",
        "LEADFLOW_PG_PORT": "6000",
        "LEADFLOW_PG_USER": "etl",
        "LEADFLOW_PG_PASSWORD": "s3cret",
        "LEADFLOW_PG_DATABASE": "gtm",
        # one dbt thread per core, between 2 and 4
        "LEADFLOW_DBT_THREADS": str(min(4, max(2, os.cpu_count() or 2))),
    }
    monkeypatch.setenv("LEADFLOW_DBT_THREADS", "8")
    assert dbt_env(url)["LEADFLOW_DBT_THREADS"] == "8"


def test_a_taken_port_moves_the_server_to_a_free_one(server_url: str, tmp_path) -> None:
    from leadflow.warehouse.embedded import EmbeddedPostgres

    taken = int(server_url.split(":")[2].split("/")[0])
    other = EmbeddedPostgres(tmp_path / "pgdata", port=taken)
    try:
        url = other.start()
        assert f":{taken}/" not in url
        with psycopg.connect(url) as conn:
            assert conn.execute("select current_database()").fetchone()[0] == "leadflow"
    finally:
        other.destroy()
    assert not other.running()


def test_a_port_held_without_a_listener_moves_the_server_too(server_url: str, tmp_path) -> None:
    """A client connection's local port (bound, not listening) refuses PostgreSQL's bind though nothing answers there."""
    import socket

    from leadflow.warehouse.embedded import EmbeddedPostgres

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    held = holder.getsockname()[1]
    other = EmbeddedPostgres(tmp_path / "pgdata", port=held)
    try:
        url = other.start()
        assert f":{held}/" not in url
    finally:
        other.destroy()
        holder.close()
