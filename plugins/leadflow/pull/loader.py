"""Stream validated records into ``raw`` with COPY, merge on the primary key, account for every record.

One ``RawLoad`` is one transaction: rows go to a temporary stage table by COPY, then one statement
merges them into the raw table. Bad records go to ``ops.quarantine``; ``ops.load_audit`` gets
read / loaded / quarantined. A crash before commit leaves nothing behind, so a retry is clean.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from leadflow.pull.contract import META_COLUMNS, Entity
from leadflow.pull.validate import Rejected, coerce_record

log = logging.getLogger(__name__)

_IDENT = re.compile(r"[^a-z0-9_]+")
FLUSH_ROWS = 20_000


def drift_column(name: str) -> str:
    """A safe column name for a field the contract does not know (schema drift adds it as text)."""
    clean = _IDENT.sub("_", str(name).strip().lower()).strip("_")[:60] or "unnamed"
    return clean if not clean[0].isdigit() else f"c_{clean}"


@dataclass
class LoadResult:
    source: str
    entity: str
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    max_cursor: str | None = None
    new_columns: list[str] = field(default_factory=list)


class RawLoad:
    """Collect records for one entity and merge them into its raw table when ``commit`` is called."""

    def __init__(
        self,
        conn: psycopg.Connection,
        entity: Entity,
        run_id: str,
        as_of: datetime,
        future_tolerance: timedelta = timedelta(hours=1),
    ):
        self.conn = conn
        self.entity = entity
        self.run_id = run_id
        self.as_of = as_of
        self.tolerance = future_tolerance
        self.started_at = datetime.now(as_of.tzinfo)
        self.result = LoadResult(entity.source, entity.name)
        self._batch_id = f"{run_id}:{uuid.uuid4().hex[:8]}"
        self._rows: list[tuple] = []
        self._quarantine: list[tuple] = []
        self._stage = f"_stage_{entity.table}"
        self._columns = list(entity.columns)
        self._max_cursor: datetime | None = None
        self._drift_keys: list[str] = []
        self._tx = conn.transaction()
        self._tx.__enter__()
        conn.execute(
            sql.SQL(
                "create temp table {stage} (like {raw} including defaults, _seq bigserial, _extra jsonb) on commit drop"
            ).format(stage=sql.Identifier(self._stage), raw=sql.Identifier("raw", entity.table))
        )

    # -- intake ---------------------------------------------------------------------------------
    def add(self, record: dict, location: str) -> None:
        """Validate one parsed record; stage it or quarantine it with the reason."""
        self.result.read += 1
        try:
            row = coerce_record(self.entity, record, self.as_of, self.tolerance)
        except Rejected as err:
            self._reject(location, record, err.problem.reason, err.problem.field)
            return
        extras = {
            drift_column(k): v for k, v in record.items() if k not in self.entity.columns and not k.startswith("_")
        }
        cursor = row[self.entity.cursor]
        if isinstance(cursor, datetime) and (self._max_cursor is None or cursor > self._max_cursor):
            self._max_cursor = cursor
        values = [row[c] for c in self._columns]
        extra = (
            json.dumps({k: v if v is None or isinstance(v, str) else json.dumps(v) for k, v in extras.items()})
            if extras
            else None
        )
        self._rows.append((*values, self._batch_id, location, self.as_of, extra))
        if len(self._rows) >= FLUSH_ROWS:
            self._flush()

    def reject_unparsed(self, location: str, payload: str, reason: str) -> None:
        """A record that could not even be parsed (bad JSON line, malformed CSV row)."""
        self.result.read += 1
        self._quarantine.append((location, None, None, reason, payload[:100_000]))
        self.result.quarantined += 1

    def _reject(self, location: str, record: dict, reason: str, fld: str | None) -> None:
        key = ":".join(str(record.get(k)) for k in self.entity.primary_key)
        payload = json.dumps(record, default=str, ensure_ascii=False)
        self._quarantine.append((location, key, fld, reason, payload[:100_000]))
        self.result.quarantined += 1

    def _flush(self) -> None:
        if not self._rows:
            return
        cols = [*self._columns, *META_COLUMNS, "_extra"]
        copy = sql.SQL("copy {stage} ({cols}) from stdin").format(
            stage=sql.Identifier(self._stage), cols=sql.SQL(", ").join(map(sql.Identifier, cols))
        )
        with self.conn.cursor() as cur, cur.copy(copy) as cp:
            for row in self._rows:
                cp.write_row(row)
        self._rows.clear()

    # -- merge ----------------------------------------------------------------------------------
    def commit(self, extra_statements: list[tuple] | None = None) -> LoadResult:
        """Merge staged rows into raw, write quarantine + audit, and commit — all or nothing."""
        try:
            self._flush()
            self._quarantine_duplicates()
            self._add_drift_columns()
            loaded = self._merge()
            self.result.loaded = loaded
            self._write_quarantine()
            for statement, params in extra_statements or []:
                self.conn.execute(statement, params)
            if self._max_cursor is not None:
                # The cursor only moves forward, and only when the rows it covers are committed.
                self.conn.execute(
                    "insert into ops.source_cursors (source, entity, cursor_value) values (%s, %s, %s) "
                    "on conflict (source, entity) do update set cursor_value = to_json(greatest("
                    "ops.source_cursors.cursor_value::timestamptz, excluded.cursor_value::timestamptz)) #>> '{}', "
                    "updated_at = now()",
                    (self.entity.source, self.entity.name, self._max_cursor.isoformat()),
                )
            self.conn.execute(
                "insert into ops.load_audit (run_id, source, entity, read, loaded, quarantined, started_at, finished_at) "
                "values (%s, %s, %s, %s, %s, %s, %s, clock_timestamp()) "
                "on conflict (run_id, source, entity) do update set read = ops.load_audit.read + excluded.read, "
                "loaded = ops.load_audit.loaded + excluded.loaded, "
                "quarantined = ops.load_audit.quarantined + excluded.quarantined, finished_at = excluded.finished_at",
                (
                    self.run_id,
                    self.entity.source,
                    self.entity.name,
                    self.result.read,
                    self.result.loaded,
                    self.result.quarantined,
                    self.started_at,
                ),
            )
        except BaseException as err:
            self._tx.__exit__(type(err), err, err.__traceback__)
            raise
        self._tx.__exit__(None, None, None)
        if self._max_cursor is not None:
            self.result.max_cursor = self._max_cursor.isoformat()
        return self.result

    def rollback(self, err: BaseException) -> None:
        self._tx.__exit__(type(err), err, err.__traceback__)

    def _quarantine_duplicates(self) -> None:
        """A key seen twice in one batch: keep the first occurrence, quarantine the others."""
        pk = sql.SQL(", ").join(map(sql.Identifier, self.entity.primary_key))
        stage = sql.Identifier(self._stage)
        key_text = sql.SQL(" || ':' || ").join(
            sql.SQL("coalesce({}::text, '')").format(sql.Identifier(c)) for c in self.entity.primary_key
        )
        dup = self.conn.execute(
            sql.SQL(
                """
                with ranked as (
                    select _seq, _source_location, {key_text} as record_key,
                           first_value(_source_location) over (partition by {pk} order by _seq) as first_location,
                           row_number() over (partition by {pk} order by _seq) as n
                    from {stage}
                ), removed as (
                    delete from {stage} s using ranked r where s._seq = r._seq and r.n > 1
                    returning s.*, r.record_key, r.first_location
                )
                insert into ops.quarantine (run_id, source, entity, location, record_key, field, reason, payload)
                select %s, %s, %s, removed._source_location, removed.record_key, {first_pk},
                       'duplicate key in batch (first seen at ' || removed.first_location || ')',
                       (to_jsonb(removed) - '_seq' - '_batch_id' - '_loaded_at' - 'record_key' - 'first_location')::text
                from removed
                """
            ).format(key_text=key_text, pk=pk, stage=stage, first_pk=sql.Literal(self.entity.primary_key[0])),
            (self.run_id, self.entity.source, self.entity.name),
        ).rowcount
        if dup:
            self.result.quarantined += dup

    def _add_drift_columns(self) -> None:
        keys = [
            r[0]
            for r in self.conn.execute(
                sql.SQL("select distinct jsonb_object_keys(_extra) from {} where _extra is not null order by 1").format(
                    sql.Identifier(self._stage)
                )
            )
        ]
        existing = {
            r[0]
            for r in self.conn.execute(
                "select column_name from information_schema.columns where table_schema = 'raw' and table_name = %s",
                (self.entity.table,),
            )
        }
        for key in keys:
            if key not in existing:
                log.warning(
                    "schema drift in %s: new field %r added to raw.%s as text", self.entity.key, key, self.entity.table
                )
                self.conn.execute(
                    sql.SQL("alter table {} add column if not exists {} text").format(
                        sql.Identifier("raw", self.entity.table), sql.Identifier(key)
                    )
                )
                self.result.new_columns.append(key)
        self._drift_keys = [k for k in keys if k not in self.entity.columns and k not in META_COLUMNS]

    def _merge(self) -> int:
        pk = list(self.entity.primary_key)
        base = [*self._columns, *META_COLUMNS]
        target = [sql.Identifier(c) for c in base] + [sql.Identifier(k) for k in self._drift_keys]
        select = [sql.Identifier(c) for c in base] + [
            sql.SQL("_extra ->> {}").format(sql.Literal(k)) for k in self._drift_keys
        ]
        updates = [c for c in base if c not in pk] + self._drift_keys
        statement = sql.SQL(
            """
            insert into {raw} as t ({target})
            select {select} from {stage}
            on conflict ({pk}) do update set {updates}
            where t.{cursor} is null or excluded.{cursor} is null or t.{cursor} <= excluded.{cursor}
            """
        ).format(
            raw=sql.Identifier("raw", self.entity.table),
            target=sql.SQL(", ").join(target),
            select=sql.SQL(", ").join(select),
            stage=sql.Identifier(self._stage),
            pk=sql.SQL(", ").join(map(sql.Identifier, pk)),
            updates=sql.SQL(", ").join(sql.SQL("{c} = excluded.{c}").format(c=sql.Identifier(c)) for c in updates),
            cursor=sql.Identifier(self.entity.cursor),
        )
        self.conn.execute(statement)
        # Rows merged or skipped as older than what raw holds both count as loaded: the record is in raw.
        return self.conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(self._stage))).fetchone()[0]

    def _write_quarantine(self) -> None:
        if not self._quarantine:
            return
        with self.conn.cursor() as cur:
            with cur.copy(
                "copy ops.quarantine (run_id, source, entity, location, record_key, field, reason, payload) from stdin"
            ) as cp:
                for location, key, fld, reason, payload in self._quarantine:
                    cp.write_row(
                        (self.run_id, self.entity.source, self.entity.name, location, key, fld, reason, payload)
                    )
        self._quarantine.clear()
