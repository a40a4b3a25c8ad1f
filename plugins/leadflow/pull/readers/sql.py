"""A SQL database table, read from its cursor column on: SQLAlchemy for any database, the standard library's
sqlite3 (or ADBC's Arrow batches) for SQLite."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from leadflow.pull import fast
from leadflow.pull.batch import Batcher, drift_column
from leadflow.pull.contract import INTEGER
from leadflow.pull.readers.base import SourceError, row_clean, rows_clean
from leadflow.pull.validate import COPY_ESCAPE

FETCH_ROWS = 10_000  # rows per fetch; each fetch goes through the Arrow fast path (pull/fast.py) as one piece


def read_sql(
    url: str, table: str, cursor_column: str, since: datetime | None, sink: Batcher, source: str, fetch: int = 0
) -> None:
    """Rows of ``table`` whose cursor column is at or after ``since`` (all rows when None), streamed
    ``fetch`` (default ``FETCH_ROWS``) rows at a time."""
    fetch = fetch or FETCH_ROWS
    query = f'select * from "{table}"'  # table and column names come from sources.yml, not from data
    if since is not None:
        query += f' where "{cursor_column}" >= :since'
    if url.startswith("sqlite:///"):
        # SQLite stores ISO text: compare in the same Z-suffixed form the application writes.
        _read_sqlite(url, table, query, since and since.strftime("%Y-%m-%dT%H:%M:%SZ"), sink, source, fetch)
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url)
    number = 0
    try:
        with engine.connect() as conn:
            params = {"since": since} if since is not None else {}
            result = conn.execution_options(stream_results=True, yield_per=fetch).execute(text(query), params)
            add_rows = _layout(sink, source, table, list(result.keys()))
            for part in result.partitions():
                number = add_rows(sink, table, part, number)
    except SQLAlchemyError as err:
        raise SourceError(
            f"{source}: SQL table {table} failed after row {number}: {err.__class__.__name__}: {err}"
        ) from err
    finally:
        engine.dispose()


def _read_sqlite(url: str, table: str, query: str, since: str | None, sink: Batcher, source: str, fetch: int) -> None:
    """SQLite through the standard library: the application database of the demo and of many exports."""
    import sqlite3

    path = url[len("sqlite:///") :]
    number = 0
    query = query.replace(":since", "?")
    params = (since,) if since is not None else ()
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            cursor = conn.execute(query, params)
            names = [d[0] for d in cursor.description]
            add_rows = _layout(sink, source, table, names)
            dbapi = _adbc_sqlite() if getattr(add_rows, "rows", None) is not None else None
            if dbapi is not None and _read_sqlite_arrow(
                dbapi, path, table, query, params, names, add_rows.rows, fetch, source
            ):
                return
            while rows := cursor.fetchmany(fetch):
                number = add_rows(sink, table, rows, number)
    except sqlite3.Error as err:
        raise SourceError(
            f"{source}: SQL table {table} failed after row {number}: {err.__class__.__name__}: {err}"
        ) from err


ARROW_TABLES: Counter = Counter()  # SQLite tables read whole as Arrow batches (ADBC) in this process (tests)


def _adbc_sqlite():
    """ADBC's SQLite driver (its DB-API module), or None: not installed, or ``LEADFLOW_PULL_ADBC=0``."""
    from leadflow.settings import current_settings

    if not current_settings().pull_adbc:
        return None
    try:
        import adbc_driver_sqlite.dbapi as dbapi
    except ImportError:
        return None
    return dbapi


def _read_sqlite_arrow(dbapi, path, table, query, params, names, rows: fast.Rows, fetch: int, source: str) -> bool:
    """A SQLite table as Arrow record batches of ``fetch`` rows (ADBC), each through ``rows.batch``: no
    Python tuple per row. Returns whether it read the table; False when it took no row (the caller
    reads the table with sqlite3 from the start). The way is chosen before the first row is handed on:
    a second query could not resume exactly where this one stopped on a database that is being written.

    SQLite is dynamically typed and ADBC types a column by the values of its first batch; later it
    silently turns an integer, a real or a BLOB into text in a text column (and an integer into a real
    in a real one), or fails (text after integers). So, first, in the same read transaction, SQLite is
    asked whether any row the query selects holds anything but text or NULL (in an INTEGER column of
    the contract, an integer is fine too): then the whole table goes the sqlite3 way. An INTEGER column
    may still mix integers and text, so its integers are read as their text (SQLite's CAST writes an
    integer as ``str`` does), and one more column tells per row which INTEGER columns held an integer
    (the rows that go the careful way get their ``int`` back). The first batch that ADBC fails on (a
    column only NULL in the first batch is typed int64: text comes later), or with another type or
    text that is not UTF-8 (``Rows.takes``): sqlite3 fails on such text too), part-way through the table,
    fails the unit cleanly (SourceError; ``LEADFLOW_PULL_ADBC=0`` reads it with sqlite3). A column that
    is only NULL in the first batch is typed int64 and would fail on later text: such a table, like a
    fault of ADBC's own before the first row, goes the sqlite3 way from the start."""
    import pyarrow as pa

    quoted = ['"' + name.replace('"', '""') + '"' for name in names]
    kinds = [rows.sink.entity.columns.get(drift_column(name)) for name in names]
    integer = [i for i, kind in enumerate(kinds) if kind == INTEGER]
    if len(integer) > 62:  # (one bit each in a 64-bit integer)
        return 0, False
    odd = " or ".join(
        f"typeof({q}) in ('real', 'blob')" if kind == INTEGER else f"(typeof({q}) <> 'text' and {q} is not null)"
        for q, kind in zip(quoted, kinds, strict=True)
    )
    check = f"select exists(select 1 from ({query}) where {odd})"
    if integer:
        flags = " + ".join(f"{1 << j}*(typeof({quoted[i]}) = 'integer')" for j, i in enumerate(integer))
        columns = [
            f"case when typeof({q}) = 'integer' then cast({q} as text) else {q} end as {q}" if kind == INTEGER else q
            for q, kind in zip(quoted, kinds, strict=True)
        ]
        query = f'select {", ".join(columns)}, {flags} as "_leadflow_integers" from ({query})'
    width = len(names)
    number = 0
    faults = (dbapi.Error, pa.ArrowException, OSError)
    try:
        conn = dbapi.connect(f"file:{path}?mode=ro")
    except faults:
        return False
    with conn, conn.cursor() as cursor:
        try:
            cursor.execute(check, params)  # (not in autocommit: the read transaction starts here)
            if cursor.fetchone()[0]:
                return False
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(fetch)})
            cursor.execute(query, params)
            batches = iter(cursor.fetch_record_batch())
        except faults:
            return False
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except faults as err:
                if not number:
                    return False
                raise _arrow_stopped(source, table, number, str(err)) from err
            if not batch.num_rows:
                continue
            if not number and any(c.null_count == batch.num_rows for c in batch.columns[:width]):
                return False  # typed by NULLs alone: later text would stop ADBC part-way
            integers = {}
            if integer:
                flags = batch.column(width)
                if not pa.types.is_int64(flags.type) or flags.null_count:
                    if not number:
                        return False
                    raise _arrow_stopped(source, table, number, "integer flags unreadable")
                flags = flags.to_numpy()
                integers = {i: (flags & (1 << j)) != 0 for j, i in enumerate(integer)}
                batch = pa.RecordBatch.from_arrays(batch.columns[:width], names=batch.schema.names[:width])
            if not rows.takes(batch):
                if not number:
                    return False
                raise _arrow_stopped(source, table, number, "a value that is not text or not UTF-8")
            rows.batch(batch, number, integers)
            number += batch.num_rows
    ARROW_TABLES[table] += 1
    return True


def _arrow_stopped(source: str, table: str, number: int, why: str) -> SourceError:
    return SourceError(
        f"{source}: SQL table {table} failed after row {number}: {why} "
        "(read through ADBC; LEADFLOW_PULL_ADBC=0 reads it with the standard library's sqlite3)"
    )


def _layout(sink: Batcher, source: str, table: str, names: list[str]):
    """Set the sink's layout; returns how to add a fetch of rows: the Arrow fast path or row by row."""
    fields = sink.distinct_fields([drift_column(k) for k in names])
    missing = sink.layout(fields)
    if missing:
        raise SourceError(f"{source}: table {table} lacks required column(s) {', '.join(missing)}")
    if not fast.applies_sql(sink, table, fields):
        return _add_rows
    rows = fast.Rows(sink, f"{table} row ", fields, row_clean)

    def add_rows(sink: Batcher, table: str, part, number: int) -> int:
        part = part if isinstance(part, list) else list(part)
        if part:
            rows.rows(part, number)
        return number + len(part)

    add_rows.rows = rows  # (SQLite also feeds it Arrow batches: _read_sqlite_arrow)
    return add_rows


def _add_rows(sink: Batcher, table: str, rows, number: int) -> int:
    prefix = f"{table} row ".translate(COPY_ESCAPE)
    add = sink.add
    clean = rows_clean(rows)
    for row in rows:
        number += 1
        add(row, f"{prefix}{number}", clean or row_clean(row), row)
    return number
