"""The ops schema has one owner: numbered migrations, applied once per warehouse, under a lock.

A fresh warehouse gets every version once; running again applies nothing; warehouses built by earlier
releases (the first release, and the last release before migrations) upgrade to exactly the schema a fresh
one gets, rows kept; workers starting together on a fresh warehouse do not race.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from leadflow.warehouse.ops import Migration, ensure_ops, migrations
from tests.conftest import REPO, scratch_warehouse

HERE = Path(__file__).parent


def shape(url: str) -> dict:
    """Columns, constraints, indexes and comments of every ops table (the version table aside)."""
    with psycopg.connect(url) as conn:

        def rows(query: str) -> list[tuple]:
            return conn.execute(query).fetchall()

        return {
            "columns": rows(
                "select table_name, ordinal_position, column_name, data_type, is_nullable, column_default "
                "from information_schema.columns where table_schema = 'ops' and table_name <> 'schema_migrations' "
                "order by 1, 2"
            ),
            "constraints": rows(
                "select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint "
                "where connamespace = 'ops'::regnamespace and conrelid <> 'ops.schema_migrations'::regclass "
                "order by 1, 2"
            ),
            "indexes": rows(
                "select indexname, indexdef from pg_indexes where schemaname = 'ops' "
                "and tablename <> 'schema_migrations' order by 1"
            ),
            "comments": rows(
                "select relname, obj_description(oid) from pg_class where relnamespace = 'ops'::regnamespace "
                "and obj_description(oid) is not null order by 1"
            ),
        }


def applied(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("select version, name, applied_at from ops.schema_migrations order by 1").fetchall()


def start_process(url: str, at: float | None = None) -> subprocess.Popen:
    """A new process (its own guard) calling ensure_ops, at wall-clock time ``at``; prints what it applied."""
    code = (
        "import sys, time, psycopg\n"
        "from leadflow.warehouse.ops import ensure_ops\n"
        f"time.sleep(max(0.0, {at or 0} - time.time()))\n"
        "with psycopg.connect(sys.argv[1], autocommit=True) as conn:\n"
        "    print(ensure_ops(conn))\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_in_new_process(url: str) -> str:
    proc = start_process(url)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out.strip()


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    shipped = migrations()
    assert [m.version for m in shipped] == list(range(1, len(shipped) + 1))
    assert shipped[0].name == "baseline"


def test_a_fresh_warehouse_gets_every_migration_once_and_a_rerun_applies_nothing(server_url: str) -> None:
    shipped = migrations()
    with scratch_warehouse(server_url, "ops_fresh") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            assert ensure_ops(conn) == [m.version for m in shipped]
            assert ensure_ops(conn) == []  # this process knows the warehouse is up to date
        first = applied(url)
        assert [(v, n) for v, n, _ in first] == [(m.version, m.name) for m in shipped]
        assert run_in_new_process(url) == "[]"  # another process start: checks, applies nothing
        assert applied(url) == first


def test_a_later_migration_is_applied_on_its_own(server_url: str) -> None:
    later = (*migrations(), Migration(len(migrations()) + 1, "probe", "create table ops.probe (id integer)"))
    with scratch_warehouse(server_url, "ops_later") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            ensure_ops(conn)
            assert ensure_ops(conn, later) == [later[-1].version]
            assert ensure_ops(conn, later) == []
            assert conn.execute("select to_regclass('ops.probe') is not null").fetchone()[0]


def test_a_failing_migration_leaves_nothing_behind(server_url: str) -> None:
    broken = (*migrations(), Migration(len(migrations()) + 1, "broken", "create table ops.half (id integer); oops"))
    with scratch_warehouse(server_url, "ops_broken") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            try:
                ensure_ops(conn, broken)
            except psycopg.errors.SyntaxError:
                pass
            else:
                raise AssertionError("a broken migration must raise")
            assert conn.execute("select to_regclass('ops.schema_migrations')").fetchone()[0] is None
            assert conn.execute("select to_regclass('ops.half')").fetchone()[0] is None


def _upgrade_keeps_rows_and_matches_fresh(server_url: str, prefix: str, old_ddl: str) -> None:
    with scratch_warehouse(server_url, f"{prefix}_fresh") as fresh_url:
        with psycopg.connect(fresh_url, autocommit=True) as conn:
            ensure_ops(conn)
        fresh = shape(fresh_url)
    with scratch_warehouse(server_url, prefix) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(old_ddl)
            conn.execute(
                "insert into ops.sync_ledger (lead_id, destination, email, content_hash, status, first_delivered_at, "
                "delivered_at, sync_run_id) values ('L1', 'file', 'a@x.example', 'h1', 'delivered', now(), now(), 's1')"
            )
            conn.execute(
                "insert into ops.quality_runs (run_id, suite, success, evaluated, failed, details) "
                "values ('r1', 'marts', true, 3, 0, '[]')"
            )
            conn.execute(
                "insert into ops.quarantine (run_id, source, entity, location, reason) "
                "values ('r1', 'crm', 'lead', 'leads.csv:2', 'bad email')"
            )
            assert ensure_ops(conn) == [m.version for m in migrations()]
            assert conn.execute("select email, version from ops.sync_ledger").fetchall() == [("a@x.example", 0)]
            assert conn.execute("select success, warnings from ops.quality_runs").fetchall() == [(True, [])]
            assert conn.execute("select reason, times_seen from ops.quarantine").fetchall() == [("bad email", 1)]
        assert shape(url) == fresh


def test_a_first_release_warehouse_upgrades_to_the_fresh_schema(server_url: str) -> None:
    _upgrade_keeps_rows_and_matches_fresh(server_url, "ops_first", (HERE / "ops_first_release.sql").read_text())


def test_a_warehouse_of_the_last_release_before_migrations_upgrades(server_url: str) -> None:
    # That release ran this same DDL on every start, without recording a version.
    _upgrade_keeps_rows_and_matches_fresh(server_url, "ops_last", migrations()[0].sql)


def test_workers_starting_together_on_a_fresh_warehouse_do_not_race(server_url: str) -> None:
    with scratch_warehouse(server_url, "ops_race") as url:
        at = time.time() + 3  # every process is up and imported by then; they connect in the same instant
        procs = [start_process(url, at) for _ in range(4)]
        outcomes = [p.communicate(timeout=90) for p in procs]
        assert [p.returncode for p in procs] == [0] * 4, [err for _, err in outcomes]
        everything = str([m.version for m in migrations()])
        assert sorted(out.strip() for out, _ in outcomes) == sorted(["[]"] * 3 + [everything])
        assert [v for v, _, _ in applied(url)] == [m.version for m in migrations()]


def test_only_the_migrations_create_or_alter_ops_tables() -> None:
    ddl = re.compile(
        r"\b(create\s+(table|index|unique\s+index)\s+(if\s+not\s+exists\s+)?(\w+\s+on\s+)?|alter\s+table\s+)ops\.", re.I
    )
    owner = REPO / "plugins/leadflow/warehouse/ops.py"  # its own version table
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("plugins", "dags", "bench")
        for path in (REPO / folder).rglob("*.py")
        if path != owner and ddl.search(path.read_text())
    ]
    assert offenders == []
