"""Readers for the three ways source data arrives: landing-zone files, a SQL database, a paginated REST API.

Every reader streams into a ``Batcher`` (``pull/batch.py``): ``sink.add(record, location, clean, raw)``
for each parsed record, ``sink.reject(location, raw, reason)`` for input that is not even a record.
Nothing holds a whole file, table or API listing in memory.

``clean`` is decided for a whole block of input at once (no backslash, control character or overlong
line in it) and lets the validator take its fast path; see ``pull/validate.py``.

Faults that make a whole unit unloadable raise ``SourceError`` (the unit's transaction is rolled back
and the Airflow retry loads it again): a truncated file, a missing required column, an API that keeps
failing after its retries, a database that drops the connection.
"""

from __future__ import annotations

import csv
import json
import logging
import queue
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import httpx
import orjson
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from leadflow.pull import fast
from leadflow.pull.batch import Batcher, drift_column
from leadflow.pull.contract import INTEGER
from leadflow.pull.validate import COPY_ESCAPE, MAX_FIELD_CHARS
from leadflow.http import RateLimit, TokenBucket

log = logging.getLogger(__name__)

READ_BYTES = 4 << 20
# A line or block that holds none of these is "clean": no escapes, control characters or backslashes.
_DIRTY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\\]").search
_DIRTY_TEXT = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\\]").search
_LONG_STRING = re.compile(rb'"[^"]{%d,}' % MAX_FIELD_CHARS).search
# The csv module refuses a field over 131,072 characters by default, which used to end the whole source's
# pull. Fields up to this size are parsed, so the contract's oversize rule (10,000) quarantines the record
# by name; a larger one (an unclosed quote running through a file) quarantines that record as a CSV error.
CSV_FIELD_LIMIT = fast.CSV_FIELD_LIMIT


class SourceError(RuntimeError):
    """A fault that fails one unit of a source (the task fails, its retry completes it); names source, location, field."""


class TruncatedFile(SourceError):
    """The file's last line has no newline and does not parse; the reader has quarantined that line already.

    While the file is young (it may still be being written) the unit fails and is retried; once it has been
    unchanged for the grace period it loads, the partial line in quarantine (see ``FileJob`` in pull/run.py).
    """


def _no_constants(token: str):
    raise ValueError(f"{token} is not valid JSON")


# -- files (local path or any fsspec URL: s3://, gs://, ...) -------------------------------------------
@dataclass(frozen=True)
class FileRef:
    url: str  # what ops.loaded_files records
    name: str  # relative to the source's location: what quarantine and raw locations show
    fingerprint: str
    fs: object  # fsspec filesystem
    path: str  # path inside fs
    modified: float | None = None  # last change, Unix seconds (None: the store does not say)

    def open(self):
        return self.fs.open(self.path, "rb")


def list_files(location: str, pattern: str, storage_options: dict | None = None) -> list[FileRef]:
    """Files under ``location`` (a folder or URL) matching the glob ``pattern``, sorted by name."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(location, **(storage_options or {}))
    fs.invalidate_cache()  # object stores cache listings: a re-run must see new and changed files
    root = root.rstrip("/")
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    refs = []
    for path in sorted(fs.glob(f"{root}/{pattern}" if root else pattern)):
        info = fs.info(path)
        if info.get("type") == "directory":
            continue
        stamp = info.get("ETag") or info.get("mtime") or info.get("LastModified") or info.get("created") or ""
        fingerprint = f"{info.get('size')}:{stamp}".replace('"', "")
        name = path[len(root) + 1 :] if root and path.startswith(root + "/") else path.rsplit("/", 1)[-1]
        url = path if protocol in ("file", "local") else f"{protocol}://{path}"
        refs.append(FileRef(url, name, fingerprint, fs, path, _modified(info)))
    return refs


def _modified(info: dict) -> float | None:
    value = info.get("mtime") or info.get("LastModified") or info.get("last_modified") or info.get("created")
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class _WholeLines:
    """A stream read in READ_BYTES blocks, yielded as (data, cut): ``data[:cut + 1]`` ends with a newline and
    ``data[cut + 1:]`` is carried into the next block. After the loop, ``rest`` holds a last line without one."""

    def __init__(self, stream):
        self.stream = stream
        self.rest = b""

    def __iter__(self):
        while block := self.stream.read(READ_BYTES):
            data = self.rest + block if self.rest else block
            cut = data.rfind(b"\n")
            if cut < 0:
                self.rest = data
                continue
            self.rest = data[cut + 1 :]
            yield data, cut


def read_jsonl(stream, name: str, sink: Batcher, source: str) -> None:
    """JSON Lines: one object per line; a last line without newline that does not parse = truncated file."""
    loads = orjson.loads
    add = sink.add
    prefix = name.translate(COPY_ESCAPE) + ":"
    blocks = None
    if fast.applies(sink, "jsonl", name):
        blocks = fast.Blocks(sink, "jsonl", prefix, lambda line, location, add: _json_line(line, location, sink, add))
    number = 0
    whole = _WholeLines(stream)
    for data, cut in whole:
        if blocks is not None and blocks.usable:
            blocks.block(data, cut + 1, number)
            number += data.count(b"\n", 0, cut + 1)
            continue
        # Raw control bytes cannot pass the JSON parser; escapes (backslash) and DEL are what make a line unclean.
        block_clean = data.find(b"\\", 0, cut) < 0 and data.find(b"\x7f", 0, cut) < 0
        for line in data[:cut].split(b"\n"):
            number += 1
            if not line or line.isspace():
                continue
            try:
                record = loads(line)
            except orjson.JSONDecodeError:
                record = _slow_json(line, f"{prefix}{number}", sink)
                if record is not None:
                    add(record, f"{prefix}{number}", False, line)
                continue
            if record.__class__ is not dict:
                sink.reject(f"{prefix}{number}", line, "JSON line is not an object")
                continue
            clean = block_clean or (b"\\" not in line and b"\x7f" not in line)
            add(record, f"{prefix}{number}", clean and len(line) <= MAX_FIELD_CHARS, line)
    rest = whole.rest
    if rest and not rest.isspace():
        number += 1
        try:
            record = json.loads(rest.decode("utf-8"), parse_constant=_no_constants)
        except ValueError as err:
            reason = "truncated last line: no newline at the end and the line does not parse"
            sink.reject(f"{prefix}{number}", rest, reason)
            raise TruncatedFile(
                f"{source}: {name} is truncated at line {number} (no newline at the end and the line does not parse)"
            ) from err
        if not isinstance(record, dict):
            sink.reject(f"{prefix}{number}", rest, "JSON line is not an object")
        else:
            add(record, f"{prefix}{number}", False, rest)


def _json_line(line: bytes, location: str, sink: Batcher, add) -> None:
    """One JSON line the careful way (what ``read_jsonl``'s loop does), for the lines the fast path leaves."""
    if not line or line.isspace():
        return
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        record = _slow_json(line, location, sink)
        if record is not None:
            add(record, location, False, line)
        return
    if record.__class__ is not dict:
        sink.reject(location, line, "JSON line is not an object")
        return
    add(record, location, b"\\" not in line and b"\x7f" not in line and len(line) <= MAX_FIELD_CHARS, line)


def _slow_json(line: bytes, location: str, sink: Batcher) -> dict | None:
    """The standard library's verdict on a line orjson refused (lone surrogates parse; its messages read well)."""
    try:
        record = json.loads(line.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        sink.reject(location, line, "invalid UTF-8 in line")
        return None
    except json.JSONDecodeError as err:
        sink.reject(location, line, f"unparseable JSON line: {err.msg}")
        return None
    except ValueError as err:
        sink.reject(location, line, f"unparseable JSON line: {err}")
        return None
    if not isinstance(record, dict):
        sink.reject(location, line, "JSON line is not an object")
        return None
    return record


class _TextLines:
    """Decoded lines (with newline) from a binary stream, remembering which were dirty, not UTF-8 or had NUL."""

    def __init__(self, stream):
        self.stream = stream
        self.number = 0
        self.last_dirty = 0
        self.bad_utf8: set[int] = set()
        self.nul: set[int] = set()
        self.ended_with_newline = True
        self._raw: list[bytes] = []  # the lines read since ``take_raw``: the bytes of the record being parsed

    def __iter__(self) -> Iterator[str]:
        whole = _WholeLines(self.stream)
        for data, cut in whole:
            for raw in data[:cut].split(b"\n"):
                yield self._line(raw)
        if whole.rest:
            self.ended_with_newline = False
            yield self._line(whole.rest)[:-1]

    def _line(self, raw: bytes) -> str:
        self.number += 1
        self._raw.append(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.bad_utf8.add(self.number)
            text = raw.decode("utf-8", "replace")
        if "\x00" in text:
            self.nul.add(self.number)
            text = text.replace("\x00", "\ufffd")
        body = text[:-1] if text.endswith("\r") else text  # a CRLF line end is not content
        if len(body) > MAX_FIELD_CHARS or _DIRTY_TEXT(body):
            self.last_dirty = self.number
        return text + "\n"

    def take_raw(self) -> bytes:
        """The exact bytes of the lines read since the last call (one CSV record), line breaks included."""
        raw, self._raw = b"\n".join(self._raw), []
        return raw


class _Prepended:
    """A binary stream with ``head`` read back in front of it."""

    def __init__(self, head: bytes, stream=None):
        self.head = head
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        if self.head:
            head, self.head = self.head, b""
            return head
        return self.stream.read(size) if self.stream is not None else b""


def read_csv(stream, name: str, sink: Batcher, source: str, delimiter: str = ",") -> None:
    """CSV with a header row; header names are matched to the contract after normalising (``Lead ID`` = lead_id)."""
    prefix = name.translate(COPY_ESCAPE) + ":"
    if fast.applies(sink, "csv", name):
        head = stream.read(READ_BYTES)
        end = head.find(b"\n")
        if end >= 0 and b'"' not in head[:end]:
            text = head[:end].decode("utf-8", "replace").replace("\x00", "\ufffd")
            header = next(csv.reader([text + "\n"], delimiter=delimiter), [])
            fields = _csv_layout(sink, source, name, header)
            width = len(fields)
            if not sink._extra_index:  # no field outside the contract (drift goes the careful way)
                _fast_csv(_Prepended(head[end + 1 :], stream), name, sink, source, delimiter, fields, prefix)
                return
            _csv_rows(_Prepended(head[end + 1 :], stream), name, sink, source, delimiter, width, prefix, 1)
            return
        stream = _Prepended(head, stream)
    lines = _TextLines(stream)
    reader = csv.reader(iter(lines), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    fields = _csv_layout(sink, source, name, header)
    _csv_records(lines, reader, name, sink, source, len(fields), prefix, 0)


def _csv_layout(sink: Batcher, source: str, name: str, header: list[str]) -> list[str]:
    fields = sink.distinct_fields([drift_column(h) for h in header])
    missing = sink.layout(fields)
    if missing:
        raise SourceError(
            f"{source}: {name} lacks required column(s) {', '.join(missing)} (header: {', '.join(header)})"
        )
    return fields


def _csv_rows(stream, name, sink, source, delimiter, width, prefix, offset) -> None:
    """The careful way over the rest of a CSV file, whose lines before ``stream`` were ``offset`` lines."""
    lines = _TextLines(stream)
    _csv_records(lines, csv.reader(iter(lines), delimiter=delimiter), name, sink, source, width, prefix, offset)


def _csv_records(lines: _TextLines, reader, name, sink: Batcher, source, width: int, prefix: str, offset: int) -> None:
    add = sink.add
    previous = reader.line_num
    last_malformed = None
    pending = None
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:  # a field over CSV_FIELD_LIMIT: that record is quarantined, the file goes on
            line = reader.line_num
            sink.reject(f"{prefix}{line + offset}", lines.take_raw(), f"unparseable CSV record: {err}")
            previous = last_malformed = line
            continue
        raw = lines.take_raw()
        line = reader.line_num
        if not row:
            previous = line
            continue
        location = f"{prefix}{line + offset}"
        if pending is not None:
            sink.reject(*pending)
            pending = None
        if len(row) != width:  # held back one row: if it is the file's cut-off end, its reason says so
            pending = (location, row, f"malformed CSV row: expected {width} fields, got {len(row)}")
            last_malformed = line
        elif lines.bad_utf8 and any(previous < n <= line for n in lines.bad_utf8):
            sink.reject(location, raw, "invalid UTF-8 in line", record=row)  # the bytes as they arrived
        elif lines.nul and any(previous < n <= line for n in lines.nul):
            sink.reject(location, raw, "control characters in line (NUL byte)", record=row)
        else:
            add(row, location, lines.last_dirty <= previous and line - previous == 1, row)
        previous = line
    if not lines.ended_with_newline and last_malformed == previous and pending is not None:
        sink.reject(pending[0], pending[1], pending[2] + " (truncated last line: no newline at the end)")
        raise TruncatedFile(f"{source}: {name} is truncated at line {previous + offset} (the last row is cut short)")
    if pending is not None:
        sink.reject(*pending)


def _fast_csv(stream, name, sink: Batcher, source, delimiter: str, fields: list[str], prefix: str) -> None:
    """CSV blocks through the Arrow fast path (pull/fast.py); whatever it cannot take, the careful way."""
    width = len(fields)
    blocks = fast.Blocks(
        sink, "csv", prefix, lambda line, location, add: _csv_line(line, location, sink, add, width, delimiter),
        fields, delimiter,
    )  # fmt: skip
    number = 1  # the header
    whole = _WholeLines(stream)
    for data, cut in whole:
        switch = blocks.block(data, cut + 1, number) if blocks.usable else (0, 0)
        if switch is not None:  # a quoted line break (or input Arrow keeps refusing): the careful way from here
            offset, used = switch
            _csv_rows(_Prepended(data[offset:], stream), name, sink, source, delimiter, width, prefix, number + used)
            return
        number += data.count(b"\n", 0, cut + 1)
    if whole.rest:  # a last line without a newline: the careful way decides whether the file is truncated
        _csv_rows(_Prepended(whole.rest), name, sink, source, delimiter, width, prefix, number)


def _csv_line(raw: bytes, location: str, sink: Batcher, add, width: int, delimiter: str) -> None:
    """One physical CSV line that is a whole record, the careful way (what ``_csv_records`` does with it)."""
    try:
        text = raw.decode("utf-8")
        bad_utf8 = False
    except UnicodeDecodeError:
        text, bad_utf8 = raw.decode("utf-8", "replace"), True
    nul = "\x00" in text
    if nul:
        text = text.replace("\x00", "\ufffd")
    body = text[:-1] if text.endswith("\r") else text
    dirty = len(body) > MAX_FIELD_CHARS or _DIRTY_TEXT(body) is not None
    try:
        row = next(csv.reader([text + "\n"], delimiter=delimiter), [])
    except csv.Error as err:
        sink.reject(location, raw, f"unparseable CSV record: {err}")
        return
    if not row:
        return
    if len(row) != width:
        sink.reject(location, row, f"malformed CSV row: expected {width} fields, got {len(row)}")
    elif bad_utf8:
        sink.reject(location, raw, "invalid UTF-8 in line", record=row)  # the bytes as they arrived
    elif nul:
        sink.reject(location, raw, "control characters in line (NUL byte)", record=row)
    else:
        add(row, location, not dirty, row)


def _row_clean(row) -> bool:
    texts = [v for v in row if v.__class__ is str]
    joined = "|".join(texts)
    # _DIRTY_TEXT lets a line feed through (it ends CSV lines): a value holding one is not clean.
    return len(joined) <= MAX_FIELD_CHARS and "\n" not in joined and _DIRTY_TEXT(joined) is None


def _rows_clean(rows: list) -> bool:
    """Whether every string in these rows keeps the fast path's promise (checked in one pass)."""
    texts = [v for row in rows for v in row if v.__class__ is str]
    if not texts:
        return True
    joined = "\n".join(texts)
    return (
        joined.count("\n") == len(texts) - 1  # no value holds a line break
        and max(map(len, texts)) <= MAX_FIELD_CHARS
        and _DIRTY_TEXT(joined) is None
    )


def read_parquet(stream, name: str, sink: Batcher, source: str, batch_rows: int = 20_000) -> None:
    """Parquet, streamed one record batch at a time (never the whole file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(stream)
    except (pa.ArrowException, OSError) as err:
        raise SourceError(f"{source}: {name} is not a readable Parquet file ({err})") from err
    fields = sink.distinct_fields([drift_column(n) for n in parquet.schema_arrow.names])
    missing = sink.layout(fields)
    if missing:
        raise SourceError(
            f"{source}: {name} lacks required column(s) {', '.join(missing)} (schema: {', '.join(fields)})"
        )
    prefix = name.translate(COPY_ESCAPE) + ":row "
    number = 0
    add = sink.add
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows):
            rows = list(zip(*[c.to_pylist() for c in batch.columns], strict=True))
            dirty = _dirty_rows(batch)
            if dirty is None:
                for row in rows:
                    number += 1
                    add(row, f"{prefix}{number}", True, row)
            else:
                for row, bad in zip(rows, dirty, strict=True):
                    number += 1
                    add(row, f"{prefix}{number}", not bad, row)
    except (pa.ArrowException, OSError) as err:
        raise SourceError(f"{source}: {name} is truncated or corrupt after row {number} ({err})") from err


def _dirty_rows(batch) -> list[bool] | None:
    """Per row of an Arrow batch, whether a string in it breaks the fast path's promise (control
    character, backslash, line break, over the length limit); None when no row does. Computed by
    Arrow's kernels (RE2), not per value in Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    mask = None
    for column in batch.columns:
        kind = column.type
        if pa.types.is_dictionary(kind):
            column, kind = column.cast(kind.value_type), kind.value_type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            continue  # numbers, timestamps, nested values: never a str for the fast path
        bad = pc.or_(
            pc.match_substring_regex(column, r"[\x00-\x1f\x7f\\]"),
            pc.greater(pc.utf8_length(column), MAX_FIELD_CHARS),
        )
        bad = pc.fill_null(bad, False)
        mask = bad if mask is None else pc.or_(mask, bad)
    if mask is None or not pc.any(mask).as_py():
        return None
    return mask.to_pylist()


# -- SQL database ------------------------------------------------------------------------------------
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
    rows = fast.Rows(sink, f"{table} row ", fields, _row_clean)

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
    clean = _rows_clean(rows)
    for row in rows:
        number += 1
        add(row, f"{prefix}{number}", clean or _row_clean(row), row)
    return number


# -- REST API (HubSpot CRM v3 list shape) ------------------------------------------------------------
class RetryableHTTPError(Exception):
    def __init__(self, status: int, retry_after: float | None, url: str):
        super().__init__(f"HTTP {status} from {url}")
        self.status = status
        self.retry_after = retry_after


def _retryable(err: BaseException) -> bool:
    return isinstance(err, RetryableHTTPError | httpx.TransportError)


def _wait(state: RetryCallState, base: float, cap: float) -> float:
    err = state.outcome.exception() if state.outcome else None
    if isinstance(err, RetryableHTTPError) and err.retry_after is not None:
        return min(err.retry_after, 60.0)
    return min(base * 2 ** (state.attempt_number - 1), cap) * (0.5 + random.random())


def _log_retry(state: RetryCallState) -> None:
    err = state.outcome.exception() if state.outcome else None
    log.warning("retrying after %s (attempt %s)", err, state.attempt_number)


class Pacer:
    """Client-side pacing of one API: a token bucket under the configured quota, or under the one it learns.

    With ``rate_limit`` configured (``"100/10s"``, ``"50/s"``) the bucket keeps every window of the
    quota under it (see ``leadflow.http.RateLimit``), so the API never has to answer 429.
    Without one, requests go as fast as the API answers until its first 429: from then on the pacer
    holds the rate it had just seen, less a tenth, and a quarter less at every further 429;
    ``Retry-After`` pauses every fetch of the source. Shared by all entities of a source in a pull.
    """

    def __init__(self, limit: RateLimit | None = None):
        self.bucket = TokenBucket(limit)
        self.lock = threading.Lock()
        self.recent: deque[float] = deque(maxlen=1000)
        self.limited = 0

    @property
    def rate(self) -> float:
        return self.bucket.rate

    def acquire(self) -> None:
        self.bucket.acquire()
        with self.lock:
            self.recent.append(time.monotonic())

    def too_many(self, retry_after: float | None) -> None:
        """The API answered 429: slow down for good (this pull) and pause for its Retry-After."""
        with self.lock:
            self.limited += 1
            now = time.monotonic()
            seen = sum(1 for t in self.recent if now - t <= 1.0)
            if self.bucket.rate > 0:
                rate = self.bucket.rate * 0.75
            else:
                rate = max(1.0, seen * 0.9)
            limit = RateLimit(max(1, round(rate * 10)), 10.0)
            bucket = TokenBucket(limit)
            bucket.pause(retry_after or 1.0)
            self.bucket = bucket
        log.warning("API answered 429: pacing to %.1f requests/s", bucket.rate)


def _get_page(client: httpx.Client, path: str, params: dict, pacer: Pacer | None = None) -> bytes:
    if pacer is not None:
        pacer.acquire()
    response = client.get(path, params=params)
    if response.status_code == 429 or response.status_code >= 500:
        retry_after = response.headers.get("Retry-After")
        try:
            wait = float(retry_after) if retry_after else None
        except ValueError:
            wait = None
        if response.status_code == 429 and pacer is not None:
            pacer.too_many(wait)
        raise RetryableHTTPError(response.status_code, wait, path)
    if response.status_code >= 400:
        raise SourceError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
    return response.content


def read_rest(
    base_url: str,
    path: str,
    since: datetime | None,
    sink: Batcher,
    source: str,
    page_size: int = 100,
    token: str | None = None,
    timeout: float = 30.0,
    attempts: int = 8,
    backoff: float = 0.25,
    max_backoff: float = 10.0,
    pacer: Pacer | None = None,
) -> None:
    """Every object updated after ``since``: ``limit`` + ``after`` paging, 429/5xx/timeouts retried with backoff."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    params: dict = {"limit": page_size}
    if since is not None:
        params["updatedAfter"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    retrying = Retrying(
        retry=retry_if_exception(_retryable),
        wait=lambda state: _wait(state, backoff, max_backoff),
        stop=stop_after_attempt(attempts),
        before_sleep=_log_retry,
        reraise=True,
    )
    pages: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch() -> None:
        """Fetch pages ahead of the validation (the next ``after`` is known as soon as a page arrives)."""
        page = 0
        try:
            with httpx.Client(base_url=base_url, headers=headers, timeout=timeout) as client:
                while not stop.is_set():
                    page += 1
                    try:
                        content = retrying(_get_page, client, path, params, pacer)
                        body = orjson.loads(content)
                    except (RetryableHTTPError, httpx.TransportError) as err:
                        raise SourceError(
                            f"{source}: {base_url}{path} page {page}: gave up after {attempts} attempts: {err}"
                        ) from err
                    except orjson.JSONDecodeError as err:
                        raise SourceError(
                            f"{source}: {base_url}{path} page {page}: response is not JSON ({err})"
                        ) from err
                    after = ((body.get("paging") or {}).get("next") or {}).get("after")
                    _put(pages, stop, (page, content, body))
                    if not after:
                        break
                    params["after"] = after
            _put(pages, stop, None)
        except BaseException as err:  # handed to the reading thread, which raises it
            _put(pages, stop, err)

    fetcher = threading.Thread(target=fetch, name=f"fetch {path}", daemon=True)
    fetcher.start()
    try:
        while (item := pages.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            page, content, body = item
            clean = _DIRTY_BYTES(content) is None and _LONG_STRING(content) is None
            for index, obj in enumerate(body.get("results") or []):
                location = f"GET {path} page {page} item {index}"
                properties = obj.get("properties") if isinstance(obj, dict) else None
                if not isinstance(properties, dict):
                    sink.reject(location, orjson.dumps(obj).decode(), "API object without properties")
                    continue
                sink.add(properties, location, clean or _row_clean(properties.values()), properties)
    finally:
        stop.set()
        fetcher.join(timeout=timeout + 5)


def _put(items: queue.Queue, stop: threading.Event, item) -> None:
    while not stop.is_set():
        try:
            items.put(item, timeout=0.2)
            return
        except queue.Full:
            continue
