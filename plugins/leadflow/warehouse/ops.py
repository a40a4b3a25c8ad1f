"""The one owner of the ``ops`` schema: numbered migrations, applied once per process and warehouse.

``migrations/NNNN_<name>.sql`` are applied in order; ``ops.schema_migrations`` records each version once.
Every step that reads or writes ``ops`` calls :func:`ensure_ops` first. A process asks the warehouse once
(a module-level guard per warehouse); a warehouse that lacks a version gets it under an advisory lock, in
one transaction with its row in ``ops.schema_migrations``, so workers starting together apply each
migration exactly once. New DDL goes into a new file, never into an applied one.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg.pq import TransactionStatus

log = logging.getLogger(__name__)

# The key every release has serialised its ops DDL with, so a process of an earlier release waits too.
LOCK_KEY = "leadflow.ops_schema"
_NAME = re.compile(r"(\d{4})_(\w+)\.sql")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@functools.cache
def migrations() -> tuple[Migration, ...]:
    """Every migration shipped in ``leadflow/warehouse/migrations``, by version."""
    found = []
    for entry in resources.files("leadflow.warehouse").joinpath("migrations").iterdir():
        if match := _NAME.fullmatch(entry.name):
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"ops migrations must be numbered 1..n without gaps, found {versions}")
    return tuple(found)


_done: set[tuple] = set()  # warehouses this process has seen up to date
_done_lock = threading.Lock()


def ensure_ops(conn: psycopg.Connection, shipped: tuple[Migration, ...] | None = None) -> list[int]:
    """Apply the migrations this warehouse lacks; returns the versions applied (none when up to date)."""
    shipped = migrations() if shipped is None else shipped
    key = (conn.info.host, conn.info.port, conn.info.dbname, max((m.version for m in shipped), default=0))
    if key in _done:
        return []
    applied: list[int] = []
    with conn.transaction():
        if {m.version for m in shipped} - _versions(conn):
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (LOCK_KEY,))
            conn.execute(
                "create schema if not exists ops; "
                "create table if not exists ops.schema_migrations ("
                " version integer primary key, name text not null, applied_at timestamptz not null default now())"
            )
            have = _versions(conn)  # again, under the lock: another worker may just have applied them
            for migration in shipped:
                if migration.version not in have:
                    conn.execute(migration.sql)
                    conn.execute(
                        "insert into ops.schema_migrations (version, name) values (%s, %s)",
                        (migration.version, migration.name),
                    )
                    applied.append(migration.version)
    if applied:
        log.info("ops schema: applied migration(s) %s", ", ".join(f"{v:04d}" for v in applied))
    # Remembered only once committed (a caller's open transaction could still roll it back).
    if conn.info.transaction_status == TransactionStatus.IDLE:
        with _done_lock:
            _done.add(key)
    return applied


def _versions(conn: psycopg.Connection) -> set[int]:
    if conn.execute("select to_regclass('ops.schema_migrations')").fetchone()[0] is None:
        return set()
    return {r[0] for r in conn.execute("select version from ops.schema_migrations")}
