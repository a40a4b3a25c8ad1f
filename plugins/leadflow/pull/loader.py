"""Merge validated chunks into ``raw`` on the primary key, and account for every record, in one transaction.

``RawLoad`` is one unit (a file, or one SQL table / API object pull) and one transaction: ``add_chunk``
COPYs chunks straight into raw while none of their keys is there yet, else stages them; ``commit`` adds
drift columns, merges the stage on the key, writes ``ops.quarantine``, record flags, bookkeeping, the
cursor and ``ops.load_audit``, and commits. A crash before the commit leaves nothing behind.
``deferred_key`` / ``restore_key`` run an empty table's first load without its primary key. Design:
docs/pull.md (Loading).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import errors, sql

from leadflow.pull.batch import Chunk, Summary, drift_column  # noqa: F401  (drift_column: public API)
from leadflow.pull.contract import META_COLUMNS, PG_TYPES, Entity
from leadflow.pull.validate import COPY_ESCAPE

log = logging.getLogger(__name__)

# What became of the loaded (accepted) records of a unit, in ops.load_audit: loaded = the sum of the four.
AUDIT_OUTCOMES = ("inserted", "updated", "unchanged", "older_than_stored")
ON_CONFLICT = ("newer_cursor_wins", "last_file_wins")


@dataclass
class LoadResult:
    source: str
    entity: str
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    max_cursor: str | None = None
    new_columns: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)  # inserted / updated / unchanged / older_than_stored


@dataclass
class Unit:
    """What one RawLoad loads, and the bookkeeping its commit writes."""

    label: str  # file name or "<entity> since <t>"
    file_url: str | None = None
    fingerprint: str | None = None
    window: bool = False  # an updated-since pull (API, SQL): record the window
    since: datetime | None = None
    replace: bool = False  # this run already committed this window: replace its audit and quarantine
    flags: dict[str, str] = field(default_factory=dict)
    # newer_cursor_wins: a stored row is replaced by a later cursor (or the same one with other content);
    # last_file_wins: by any other content (full re-exports whose cursor does not move, or moves back).
    on_conflict: str = "newer_cursor_wins"


class RawLoad:
    """Stage chunks for one entity and merge them into its raw table when ``commit`` is called."""

    def __init__(
        self, conn: psycopg.Connection, entity: Entity, run_id: str, as_of: datetime, unit: Unit, keyed: bool = True
    ):
        self.conn = conn
        self.keyed = keyed  # False while the first load runs with the raw table's key deferred
        self.entity = entity
        self.run_id = run_id
        self.as_of = as_of
        self.unit = unit
        self.started_at = datetime.now(as_of.tzinfo)
        self.result = LoadResult(entity.source, entity.name)
        self._batch_id = f"{run_id}:{unit.label}"
        self._columns = list(entity.columns)
        self._tx = conn.transaction()
        self._tx.__enter__()
        # One round trip; the stage table is made only when a chunk needs it (most units COPY straight into raw).
        conn.execute(
            "set local timezone = 'UTC'; "
            "create temp table _quarantine (location text, record_key text, field text, reason text, payload text, "
            "payload_bytes bytea, "
            "n bigint generated always as identity) on commit drop"
        )
        cols = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(PG_TYPES[t])) for c, t in entity.columns.items()]
        self._stage_ddl = sql.SQL(
            "create temp table if not exists _stage ({}, _source_location text, _extra jsonb) on commit drop"
        ).format(sql.SQL(", ").join(cols))
        self._stage_made = False
        self._flags_made = False  # _record_flags: what the validator flagged (naive timestamps, nested values)
        self._copy_rows = sql.SQL("copy _stage ({}) from stdin").format(
            sql.SQL(", ").join(map(sql.Identifier, [*self._columns, "_source_location", "_extra"]))
        )
        # Straight into raw: the batcher's ``\t<extra>`` (NULL) becomes ``\t<_batch_id>\t<_loaded_at>``.
        self._copy_direct = sql.SQL("copy {} ({}) from stdin").format(
            sql.Identifier("raw", entity.table),
            sql.SQL(", ").join(map(sql.Identifier, [*self._columns, "_source_location", "_batch_id", "_loaded_at"])),
        )
        self._tail = f"\t{self._batch_id.translate(COPY_ESCAPE)}\t{as_of.isoformat()}\n".encode()
        self.direct = not unit.flags  # flags are computed over the stage: those units always merge
        self.direct_rows = 0
        self.staged_rows = 0
        self.outcomes = dict.fromkeys(AUDIT_OUTCOMES, 0)

    # -- intake ---------------------------------------------------------------------------------
    def add_chunk(self, chunk: Chunk) -> None:
        with self.conn.cursor() as cur:
            if chunk.count and not (self.direct and self._copy_into_raw(cur, chunk)):
                self._stage()
                with cur.copy(self._copy_rows) as cp:
                    cp.write(chunk.rows)
                self.staged_rows += chunk.count
            if chunk.quarantine:
                with cur.copy(
                    "copy _quarantine (location, record_key, field, reason, payload, payload_bytes) from stdin"
                ) as cp:
                    for row in chunk.quarantine:
                        cp.write_row(row)
            if chunk.flags:
                if not self._flags_made:
                    self.conn.execute(
                        "create temp table if not exists _record_flags (record_key text, flag text, location text) "
                        "on commit drop"
                    )
                    self._flags_made = True
                with cur.copy("copy _record_flags (record_key, flag, location) from stdin") as cp:
                    for row in chunk.flags:
                        cp.write_row(row)

    def _stage(self) -> None:
        if not self._stage_made:
            self.conn.execute(self._stage_ddl)
            self._stage_made = True

    def _copy_into_raw(self, cur: psycopg.Cursor, chunk: Chunk) -> bool:
        """COPY a chunk with no drift fields straight into raw; False (nothing written) if a key is already there.

        The common case (first loads, new files) at COPY speed: an ``INSERT ... SELECT`` from a stage costs
        twice as much in PostgreSQL as COPY, which batches its heap and WAL writes. A key already in raw, or
        being written by a parallel unit, rolls the savepoint back; this and every later chunk of the unit
        then go to the stage. The batcher has validated every value, so COPY never rejects one for content.
        """
        if chunk.extras:
            return False
        data = chunk.rows.replace(b"\t\\N\n", self._tail)
        # Every row end replaced, and nothing else (only row ends hold a newline): told by the length alone.
        if len(data) - len(chunk.rows) != chunk.count * (len(self._tail) - 4):  # cannot happen; stage it
            return False
        try:
            with self.conn.transaction():  # a savepoint
                with cur.copy(self._copy_direct) as cp:
                    cp.write(data)
        except (errors.UniqueViolation, errors.DeadlockDetected) as err:
            # Keys that are already loaded (a look-back window, a changed file): merge this unit on its key.
            log.debug(
                "%s %s: %s; merging through the stage", self.entity.key, self.unit.label, err.diag.message_primary
            )
            self.direct = False
            return False
        self.direct_rows += chunk.count
        self.outcomes["inserted"] += chunk.count
        return True

    # -- merge ----------------------------------------------------------------------------------
    def commit(self, summary: Summary) -> LoadResult:
        """Merge staged rows into raw, write quarantine, flags, bookkeeping and audit, and commit — all or nothing."""
        try:
            self.result.read = summary.read
            self.result.loaded = summary.staged
            self.result.quarantined = summary.quarantined
            drift = self._add_drift_columns(summary.drift)
            if self.staged_rows:
                self._merge(drift)
            self._write_quarantine()
            if self.unit.flags and summary.staged:
                self._flag()
            if summary.flags and summary.staged:
                self._flag_read(summary.flags)
            if self._flags_made:
                self.conn.execute(
                    "insert into ops.record_flags (source, entity, record_key, flag, location, run_id, flagged_at) "
                    "select %s, %s, record_key, flag, location, %s, %s from _record_flags on conflict do nothing",
                    (self.entity.source, self.entity.name, self.run_id, self.as_of),
                )
            self._bookkeeping(summary)
        except BaseException as err:
            self.rollback(err)
            raise
        self._tx.__exit__(None, None, None)
        if summary.max_cursor is not None:
            self.result.max_cursor = summary.max_cursor + "Z"
        return self.result

    def rollback(self, err: BaseException) -> None:
        self._tx.__exit__(type(err), err, err.__traceback__)

    def _add_drift_columns(self, names: list[str]) -> list[str]:
        if not names:
            return []
        existing = set(_raw_columns(self.conn, self.entity))
        for name in names:
            if name not in existing:
                log.warning(
                    "schema drift in %s: new field %r added to raw.%s as text", self.entity.key, name, self.entity.table
                )
                self.conn.execute(
                    sql.SQL("alter table {} add column if not exists {} text").format(
                        sql.Identifier("raw", self.entity.table), sql.Identifier(name)
                    )
                )
                self.result.new_columns.append(name)
        return [n for n in names if n not in self.entity.columns and n not in META_COLUMNS]

    def _merge(self, drift: list[str]) -> None:
        pk = list(self.entity.primary_key)
        cursor = sql.Identifier(self.entity.cursor)
        target = [*self._columns, *META_COLUMNS, *drift]
        select = [sql.Identifier(c) for c in self._columns] + [
            sql.Literal(self._batch_id),
            sql.Identifier("_source_location"),
            sql.Literal(self.as_of),
            *[sql.SQL("_extra ->> {}").format(sql.Literal(k)) for k in drift],
        ]
        if not self.keyed:  # the key is deferred: append; duplicates are settled when it is rebuilt
            appended = self.conn.execute(
                sql.SQL("insert into {raw} ({target}) select {select} from _stage").format(
                    raw=sql.Identifier("raw", self.entity.table),
                    target=sql.SQL(", ").join(map(sql.Identifier, target)),
                    select=sql.SQL(", ").join(select),
                )
            ).rowcount
            self.outcomes["inserted"] += appended  # (a first load: the raw table was empty)
            return
        content = [c for c in [*self._columns, *drift] if c not in pk]
        updates = [c for c in target if c not in pk]
        if self.unit.on_conflict == "last_file_wins":
            rule = "({old}) is distinct from ({new})"
        else:
            rule = (
                "t.{cursor} is null or excluded.{cursor} is null or t.{cursor} < excluded.{cursor} "
                "or (t.{cursor} = excluded.{cursor} and ({old}) is distinct from ({new}))"
            )
            # Rows the merge will keep out because raw holds a later version (counted before it runs).
            self.outcomes["older_than_stored"] += self.conn.execute(
                sql.SQL("select count(*) from _stage s join {raw} t using ({pk}) where s.{cursor} < t.{cursor}").format(
                    raw=sql.Identifier("raw", self.entity.table),
                    pk=sql.SQL(", ").join(map(sql.Identifier, pk)),
                    cursor=cursor,
                )
            ).fetchone()[0]
        statement = sql.SQL(
            """
            with merged as (
                insert into {raw} as t ({target})
                select {select} from _stage order by {pk}
                on conflict ({pk}) do update set {updates}
                where """
            + rule
            + """
                returning (xmax = 0) as inserted
            )
            select count(*) filter (where inserted), count(*) filter (where not inserted) from merged
            """
        ).format(
            raw=sql.Identifier("raw", self.entity.table),
            target=sql.SQL(", ").join(map(sql.Identifier, target)),
            select=sql.SQL(", ").join(select),
            pk=sql.SQL(", ").join(map(sql.Identifier, pk)),
            updates=sql.SQL(", ").join(sql.SQL("{c} = excluded.{c}").format(c=sql.Identifier(c)) for c in updates),
            cursor=cursor,
            old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in content),
            new=sql.SQL(", ").join(sql.SQL("excluded.{}").format(sql.Identifier(c)) for c in content),
        )
        for attempt in range(3):
            try:
                with self.conn.transaction():  # a savepoint: a deadlock with a parallel unit is retried
                    inserted, updated = self.conn.execute(statement).fetchone()
                self.outcomes["inserted"] += inserted
                self.outcomes["updated"] += updated
                return
            except errors.DeadlockDetected:
                if attempt == 2:
                    raise
                log.warning("%s %s: merge deadlocked with a parallel unit; retrying", self.entity.key, self.unit.label)

    def _ids(self) -> tuple:
        return (self.run_id, self.entity.source, self.entity.name)

    def _write_quarantine(self) -> None:
        if self.unit.replace:
            self.conn.execute(
                "delete from ops.quarantine where run_id = %s and source = %s and entity = %s", self._ids()
            )
        # A record another run already quarantined for the same reason is not added again: that row is
        # marked seen by this run (once per run, so re-running a run changes nothing). Records without a
        # key are the same record when their payload is.
        same = (
            "q.source = %(source)s and q.entity = %(entity)s and q.reason = t.reason and "
            "coalesce('k:' || q.record_key, 'p:' || md5(q.payload)) = coalesce('k:' || t.record_key, 'p:' || md5(t.payload))"
        )
        params = {"run": self.run_id, "source": self.entity.source, "entity": self.entity.name}
        self.conn.execute(
            "update ops.quarantine q set last_seen_run_id = %(run)s, last_seen_at = now(), "
            "times_seen = q.times_seen + 1 "
            f"from _quarantine t where {same} and q.run_id <> %(run)s "
            "and q.last_seen_run_id is distinct from %(run)s",
            params,
        )
        self.conn.execute(
            "insert into ops.quarantine (run_id, source, entity, location, record_key, field, reason, payload, "
            "payload_bytes) select %(run)s, %(source)s, %(entity)s, location, record_key, field, reason, payload, "
            "payload_bytes from _quarantine t "
            f"where not exists (select 1 from ops.quarantine q where {same} and q.run_id <> %(run)s) order by t.n",
            params,
        )

    def _key_sql(self, alias: str) -> sql.Composable:
        return sql.SQL(" || ':' || ").join(
            sql.SQL("coalesce({}.{}::text, '')").format(sql.Identifier(alias), sql.Identifier(c))
            for c in self.entity.primary_key
        )

    def _flag(self) -> None:
        """Configured checks (SQL over the raw row ``r``) for the records of this unit: flagged, not dropped."""
        self._stage()
        join = sql.SQL(" and ").join(
            sql.SQL("r.{c} = s.{c}").format(c=sql.Identifier(c)) for c in self.entity.primary_key
        )
        self.conn.execute(
            sql.SQL(
                "delete from ops.record_flags f using _stage s where f.source = %s and f.entity = %s "
                "and f.record_key = {}"
            ).format(self._key_sql("s")),
            (self.entity.source, self.entity.name),
        )
        for flag, condition in self.unit.flags.items():
            self.conn.execute(
                sql.SQL(
                    "insert into ops.record_flags (source, entity, record_key, flag, location, run_id, flagged_at) "
                    "select %s, %s, {key}, %s, r._source_location, %s, %s "
                    "from {raw} r join _stage s on {join} where ({condition}) on conflict do nothing"
                ).format(
                    key=self._key_sql("r"),
                    raw=sql.Identifier("raw", self.entity.table),
                    join=join,
                    condition=sql.SQL(condition),  # configuration, like a dbt model: trusted SQL
                ),
                (self.entity.source, self.entity.name, flag, self.run_id, self.as_of),
            )

    def _flag_read(self, flags: dict[str, str]) -> None:
        """Flags the reader raised for this unit (a repeated header): over the rows this unit wrote to raw."""
        for flag, condition in flags.items():
            self.conn.execute(
                sql.SQL(
                    "insert into ops.record_flags (source, entity, record_key, flag, location, run_id, flagged_at) "
                    "select %s, %s, {key}, %s, r._source_location, %s, %s from {raw} r "
                    "where r._batch_id = %s and ({condition}) on conflict do nothing"
                ).format(key=self._key_sql("r"), raw=_raw(self.entity), condition=sql.SQL(condition)),
                (self.entity.source, self.entity.name, flag, self.run_id, self.as_of, self._batch_id),
            )

    def _bookkeeping(self, summary: Summary) -> None:
        unit = self.unit
        if unit.file_url is not None:
            self.conn.execute(
                "insert into ops.loaded_files (source, path, fingerprint, run_id) values (%s, %s, %s, %s) "
                "on conflict do nothing",
                (self.entity.key, unit.file_url, unit.fingerprint, self.run_id),
            )
        if unit.window:
            self.conn.execute(
                "insert into ops.pull_windows (run_id, source, entity, since) values (%s, %s, %s, %s) "
                "on conflict do nothing",
                (*self._ids(), unit.since),
            )
        if summary.max_cursor is not None:
            # The cursor only moves forward, and only when the rows it covers are committed.
            self.conn.execute(
                "insert into ops.source_cursors (source, entity, cursor_value) values (%s, %s, %s) "
                "on conflict (source, entity) do update set cursor_value = to_json(greatest("
                "ops.source_cursors.cursor_value::timestamptz, excluded.cursor_value::timestamptz)) #>> '{}', "
                "updated_at = now()",
                (self.entity.source, self.entity.name, summary.max_cursor + "Z"),
            )
        accumulate = "ops.load_audit.{0} + excluded.{0}" if not unit.replace else "excluded.{0}"
        outcomes = self.outcomes
        outcomes["unchanged"] = (
            summary.staged - outcomes["inserted"] - outcomes["updated"] - outcomes["older_than_stored"]
        )
        self.result.outcomes = dict(outcomes)
        counted = ("read", "loaded", "quarantined", *AUDIT_OUTCOMES)
        self.conn.execute(
            "insert into ops.load_audit (run_id, source, entity, read, loaded, quarantined, "
            + ", ".join(AUDIT_OUTCOMES)
            + ", started_at, finished_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp()) "
            "on conflict (run_id, source, entity) do update set "
            + ", ".join(f"{c} = {accumulate.format(c)}" for c in counted)
            + ", finished_at = excluded.finished_at",
            (
                *self._ids(),
                summary.read,
                summary.staged,
                summary.quarantined,
                *(outcomes[c] for c in AUDIT_OUTCOMES),
                self.started_at,
            ),
        )


# -- first loads: the primary key deferred ------------------------------------------------------------
def _raw(entity: Entity) -> sql.Identifier:
    return sql.Identifier("raw", entity.table)


def _raw_columns(conn: psycopg.Connection, entity: Entity) -> list[str]:
    """The raw table's columns as they are now (drift columns included), in table order."""
    return [
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = %s "
            "order by ordinal_position",
            (entity.table,),
        )
    ]


def _key_lock(conn: psycopg.Connection, entity: Entity, take: bool) -> None:
    """A session lock per raw table: one pull at a time may hold its key deferred or rebuild it."""
    function = "pg_advisory_lock" if take else "pg_advisory_unlock"
    conn.execute(f"select {function}(hashtext('leadflow.raw_key'), hashtext(%s))", (entity.qualified_table,))


@contextmanager
def deferred_key(
    conn: psycopg.Connection, entity: Entity, run_id: str, wanted: bool = True, on_conflict: str = "newer_cursor_wins"
) -> Iterator[bool]:
    """Around the load of one entity: yields ``keyed`` — False when its raw table was empty and its primary
    key is now dropped until the block ends (units append; ``restore_key`` rebuilds the key at the end).

    Keeping a B-tree up to date row by row costs more than the rest of the COPY (1.96 M web events: 6.6 s
    keyed vs 3.6 s unkeyed + 0.8 s to build the key afterwards). The drop is noted in ``ops.deferred_keys``
    in its transaction. First rebuilds a key an earlier pull left deferred (it died half-way). Another pull of the same table
    waits on the lock while the key is deferred, then finds it rebuilt and merges as usual.
    """
    _key_lock(conn, entity, take=True)
    deferred = False
    try:
        restore_key(conn, entity)
        deferred = wanted and _drop_key_if_empty(conn, entity, run_id)
    finally:
        if not deferred:
            _key_lock(conn, entity, take=False)
    if not deferred:
        yield True
        return
    try:
        yield False
    finally:
        try:
            restore_key(conn, entity, on_conflict)
        finally:
            _key_lock(conn, entity, take=False)


def _drop_key_if_empty(conn: psycopg.Connection, entity: Entity, run_id: str) -> bool:
    exists = sql.SQL("select exists (select 1 from {})").format(_raw(entity))
    if conn.execute(exists).fetchone()[0]:  # checked before locking: a loaded table is never locked here
        return False
    with conn.transaction():
        conn.execute(sql.SQL("lock table {} in access exclusive mode").format(_raw(entity)))
        if conn.execute(exists).fetchone()[0]:
            return False
        row = conn.execute(
            "select conname from pg_constraint where conrelid = %s::regclass and contype = 'p'",
            (entity.qualified_table,),
        ).fetchone()
        if row is None:
            return False
        conn.execute(
            "insert into ops.deferred_keys (source, entity, constraint_name, key_columns, run_id) "
            "values (%s, %s, %s, %s, %s)",
            (entity.source, entity.name, row[0], list(entity.primary_key), run_id),
        )
        conn.execute(sql.SQL("alter table {} drop constraint {}").format(_raw(entity), sql.Identifier(row[0])))
    log.info("%s: first load into an empty table; its primary key is built once at the end", entity.key)
    return True


def restore_key(conn: psycopg.Connection, entity: Entity, on_conflict: str = "newer_cursor_wins") -> None:
    """Build the primary key a first load deferred, settling keys that arrived in more than one unit (and
    moving the rows that lost from ``inserted`` to what became of them in that run's ops.load_audit)."""
    row = conn.execute(
        "select constraint_name, key_columns, run_id from ops.deferred_keys where source = %s and entity = %s",
        (entity.source, entity.name),
    ).fetchone()
    if row is None:
        return
    name, columns, run_id = row
    started = time.monotonic()
    add = sql.SQL("alter table {} add constraint {} primary key ({})").format(
        _raw(entity), sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    removed = 0
    with conn.transaction():
        try:
            with conn.transaction():  # a savepoint: the build itself finds out whether keys repeat
                conn.execute(add)
        except errors.UniqueViolation:
            outcomes = _settle_duplicates(conn, entity, columns, on_conflict)
            removed = sum(outcomes.values())
            conn.execute(
                "update ops.load_audit set inserted = inserted - %s, updated = updated + %s, "
                "unchanged = unchanged + %s, older_than_stored = older_than_stored + %s "
                "where run_id = %s and source = %s and entity = %s",
                (removed, outcomes["updated"], outcomes["unchanged"], outcomes["older_than_stored"], run_id,
                 entity.source, entity.name),
            )  # fmt: skip
            conn.execute(add)
        conn.execute("delete from ops.deferred_keys where source = %s and entity = %s", (entity.source, entity.name))
    log.info(
        "%s: primary key built in %.1fs%s",
        entity.key,
        time.monotonic() - started,
        f" ({removed} superseded version(s) of repeated keys removed)" if removed else "",
    )


def _settle_duplicates(
    conn: psycopg.Connection, entity: Entity, columns: list[str], on_conflict: str = "newer_cursor_wins"
) -> dict[str, int]:
    """Keep, of every key that arrived in several units, the row the merge would have kept.

    The merge, applied unit after unit (in ``_batch_id`` order: the run, then the file), replaces the stored
    row when either cursor is null, the new cursor is later, or it is equal and the content differs. Only the
    repeated keys are fetched (a handful, normally), and the fold runs here, exactly as the merge decides.
    """
    content = [c for c in _raw_columns(conn, entity) if c not in columns and c not in META_COLUMNS]
    keys = sql.SQL(", ").join(map(sql.Identifier, columns))
    rows = conn.execute(
        sql.SQL(
            "select ctid::text, {keys}, {cursor}, md5(row({content})::text) from {raw} "
            "where ({keys}) in (select {keys} from {raw} group by {keys} having count(*) > 1) "
            "order by {keys}, _batch_id, ctid"
        ).format(
            keys=keys,
            cursor=sql.Identifier(entity.cursor),
            content=sql.SQL(", ").join(map(sql.Identifier, content)),
            raw=_raw(entity),
        )
    ).fetchall()
    width = len(columns)
    losers: list[str] = []
    outcomes = {"updated": 0, "unchanged": 0, "older_than_stored": 0}
    stored = None
    for ctid, *rest in rows:
        key, cursor, digest = tuple(rest[:width]), rest[width], rest[width + 1]
        if stored is None or stored[0] != key:
            stored = (key, ctid, cursor, digest)
            continue
        _, old_ctid, old_cursor, old_digest = stored
        if on_conflict == "last_file_wins":
            wins = old_digest != digest
        else:
            wins = (
                old_cursor is None
                or cursor is None
                or old_cursor < cursor
                or (old_cursor == cursor and old_digest != digest)
            )
        if wins:
            losers.append(old_ctid)
            stored = (key, ctid, cursor, digest)
            outcomes["updated"] += 1
        else:
            losers.append(ctid)
            older = old_cursor is not None and cursor is not None and cursor < old_cursor
            outcomes["older_than_stored" if older else "unchanged"] += 1
    conn.execute(sql.SQL("delete from {} where ctid = any(%s::tid[])").format(_raw(entity)), (losers,))
    return outcomes
