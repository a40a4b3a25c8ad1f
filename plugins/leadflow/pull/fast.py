"""The vectorized fast path for CSV and JSON Lines files (and SQL rows): Arrow checks and renders whole blocks.

For entities whose columns are all text, e-mail, timestamp (and, in CSV, integer) it replaces the
per-record path's ~4 µs of Python per record: ``Blocks`` triages and parses a file 4 MB at a time,
``Rows`` takes a SQL table one fetch at a time, and ``Columns`` (shared) checks whole columns, decides
duplicates in line order and renders COPY text. Whatever is not plainly a record goes the careful way,
the per-record code itself, so raw, quarantine reasons and audit are the same either way
(``tests/pull/test_fast_path_parity.py``). ``applies`` / ``applies_sql`` say when it is used;
``LEADFLOW_PULL_FAST=0`` turns it off. Design: docs/pull.md (Validation).
"""

from __future__ import annotations

import csv
import os
import threading
from collections import Counter
from itertools import chain

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from leadflow.pull.batch import Batcher
from leadflow.pull.contract import EMAIL, INTEGER, JSON, TEXT, TIMESTAMP
from leadflow.pull.rules import EMAIL_RULE, INTEGER_SHAPE, TIMESTAMP_RULE
from leadflow.pull.validate import COPY_ESCAPE, MAX_FIELD_CHARS, _json_ok

TYPES = {
    "jsonl": {TEXT, EMAIL, TIMESTAMP},
    "csv": {TEXT, EMAIL, TIMESTAMP, INTEGER},
    "sql": {TEXT, EMAIL, TIMESTAMP, INTEGER, JSON},
}
if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
    # jemalloc hands freed block buffers back to the system after a second; glibc keeps them (and mimalloc,
    # pyarrow's default, keeps more per thread). Measured on the 100k-lead files + SQL pull, one process:
    # peak RSS 387-411 MB with jemalloc, 471-507 MB with glibc, 422 MB with mimalloc; CPU within ~3%.
    # A pyarrow built without jemalloc keeps the C library's allocator.
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:
        pa.set_memory_pool(pa.system_memory_pool())
ROWS: Counter = Counter()  # rows loaded through the fast path in this process, per entity (tests, benchmark)
_ROWS_LOCK = threading.Lock()
# The csv module's default field limit (131,072) raised for every reader here (pull/readers/files.py says why).
CSV_FIELD_LIMIT = 64 << 20
csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
SMALLEST = 64  # a refused piece of this many lines or fewer goes the careful way line by line

QUOTE_STAND_IN = "\x01"
TEXT_TYPES = {str, type(None)}


def enabled() -> bool:
    from leadflow.settings import current_settings

    return current_settings().pull_fast


def applies(sink: Batcher, fmt: str, name: str) -> bool:
    """Whether the fast path can take this unit: plain contract columns, no mapping, a plain file name."""
    if not enabled() or sink.mapping or any(ord(ch) < 0x20 or ch in '\\"' for ch in name):
        return False
    return all(kind in TYPES[fmt] for kind in sink.entity.columns.values())


def applies_sql(sink: Batcher, table: str, fields: list[str]) -> bool:
    """Whether the fast path can take this SQL table: ``applies``, and no field outside the contract (drift)."""
    return (
        applies(sink, "sql", table)
        and len(set(fields)) == len(fields)
        and all(f in sink.entity.columns for f in fields)
    )


class Columns:
    """What the files' blocks and the SQL rows share: the column checks, the duplicates in order, the
    rendering. Rows are numbered ``number + 1 + i`` within a piece (a block's lines, a fetch's rows), and
    located as ``<prefix><number>``, as the per-record path locates them.

    - **Check** whole columns with ``pyarrow.compute``: required fields present and not blank, e-mails
      (without surrounding spaces, as stored), timestamps in the canonical ``YYYY-MM-DDTHH:MM:SSZ`` form
      between 2000 and the run's as-of, integers. The validator's fast path, rendered from the same rule
      objects (``pull/rules.py``), and conservative: a row they cannot pass as it is goes the careful way
      (which accepts it, normalised, or quarantines it with the reason).
    - **Duplicates** are decided in line order over the piece's good rows from both ways, against every
      key the unit has seen: the first occurrence wins.
    - **Render** the good rows in key order in COPY's text format (Arrow's CSV writer, in C), in the chunks
      the per-record path makes; the loader COPYs them straight into raw, or through the stage."""

    fmt = ""

    def __init__(self, sink: Batcher, prefix: str):
        self.sink = sink
        self.prefix = prefix
        entity = sink.entity
        self.columns = list(entity.columns.items())
        self.key = list(entity.primary_key)
        self.cursor = entity.cursor
        self.required = set(entity.required)
        self.high = TIMESTAMP_RULE.highest(sink.validator.future_limit)
        sink.line_prefix = prefix

    # -- checks -------------------------------------------------------------------------------------
    def _check(self, table: pa.Table) -> np.ndarray:
        """Per row: every field passes the validator's fast path as it is (conservative)."""
        ok = np.ones(table.num_rows, dtype=bool)
        for column, kind in self.columns:
            values = table.column(column)
            required = column in self.required
            if values.null_count == len(values):
                if required:
                    return np.zeros(table.num_rows, dtype=bool)
                continue
            if kind == TEXT and not required:
                continue  # any text passes (a blank one is stored as NULL)
            blank = _blank(values)
            if required:
                ok &= ~blank
            shape = None
            if kind == EMAIL:
                shape = EMAIL_RULE.arrow_valid(values)
            elif kind == TIMESTAMP:
                upper = self.high if TIMESTAMP_RULE.bounded(column) else TIMESTAMP_RULE.unbounded
                shape = TIMESTAMP_RULE.arrow_valid(values, upper)
            elif kind == INTEGER:
                shape = INTEGER_SHAPE.arrow(values)
            elif kind == JSON:
                shape = _json_valid(values)
            if shape is not None:
                # An optional value may also be blank (stored as NULL).
                ok &= _numpy(shape) | blank if not required else _numpy(shape)
        return ok

    # -- duplicates, rendering -----------------------------------------------------------------------
    def _settle(self, number: int, table, rows, checked: list, keys=None) -> None:
        """Stage the careful rows' ``checked`` results (index in the piece, ``Batcher.check`` result) and the
        fast rows ``table`` (at indexes ``rows``), deciding duplicates in order; render the fast rows.
        ``keys``: the fast rows' keys as Python values, when the caller has them (else read from ``table``)."""
        sink = self.sink
        if table is None or not table.num_rows:
            for _, result in checked:
                sink.stage(result)
            return
        # Duplicates in line order, over both ways' good rows, against every key seen in this unit.
        if keys is None and len(self.key) == 1:
            keys = self._key_part(table, self.key[0])
        elif keys is None:
            keys = list(zip(*(self._key_part(table, k) for k in self.key), strict=True))
        lines = (rows + (number + 1)).tolist()
        seen = sink._seen
        # The common case, decided by C loops over the keys: the fast rows' keys are all new and distinct,
        # and no careful row's key is also a fast row's after it. Then every fast row is the first of its key.
        fresh = dict(zip(keys, lines, strict=True))
        if (
            len(fresh) == len(keys)
            and seen.keys().isdisjoint(fresh)
            and not any(fresh.get(result[1], 0) > number + 1 + i for i, result in checked)
        ):
            seen.update(fresh)
            for _, result in checked:
                sink.stage(result)
            self._load(table, rows, number)
            return
        before = len(seen)
        setdefault = seen.setdefault
        firsts = [setdefault(key, line) for key, line in zip(keys, lines, strict=True)]
        # The careful lines' records come after the fast rows in that pass: fine unless one of them holds a
        # key that a later fast row of this block has just taken. Then the whole block again, in line order.
        for i, result in checked:
            first = seen.get(result[1])
            if first.__class__ is int and first > number + 1 + i:
                for key, line, first in zip(keys, lines, firsts, strict=True):
                    if first == line:
                        del seen[key]
                dropped = self._in_line_order(number, keys, lines, rows, checked)
                break
        else:
            dropped = []
            if len(seen) - before != len(keys):
                for j, (line, first) in enumerate(zip(lines, firsts, strict=True)):
                    if first != line:
                        self._duplicate(rows[j], keys[j], line, first)
                        dropped.append(j)
            for _, result in checked:
                sink.stage(result)
        if dropped:
            keep = np.ones(table.num_rows, dtype=bool)
            keep[dropped] = False
            table, rows = table.filter(pa.array(keep)), rows[keep]
            if not table.num_rows:
                return
        self._load(table, rows, number)

    def _key_part(self, table: pa.Table, column: str) -> list:
        """A key column's values as the validator keys the row: an e-mail without surrounding spaces (the
        consent list's key is e-mail and reason, so " p5@acme.com " repeats "p5@acme.com")."""
        values = table.column(column)
        return (EMAIL_RULE.arrow_stored(values) if self.sink.entity.columns[column] == EMAIL else values).to_pylist()

    def _load(self, table: pa.Table, rows, number: int) -> None:
        sink = self.sink
        rendered, count, high = self._render(table, rows, number)
        sink.add_rendered(rendered, count, high)
        with _ROWS_LOCK:
            ROWS[sink.entity.key] += count

    def _in_line_order(self, number, keys, lines, rows, checked) -> list[int]:
        """Stage the careful lines' records and find duplicates among the fast rows, strictly in line order."""
        seen = self.sink._seen
        dropped = []
        pending = iter(checked)
        nxt = next(pending, None)
        for j, (key, line) in enumerate(zip(keys, lines, strict=True)):
            while nxt is not None and nxt[0] + number + 1 < line:
                self.sink.stage(nxt[1])
                nxt = next(pending, None)
            first = seen.setdefault(key, line)
            if first != line:
                self._duplicate(rows[j], key, line, first)
                dropped.append(j)
        while nxt is not None:
            self.sink.stage(nxt[1])
            nxt = next(pending, None)
        return dropped

    def _render(self, table: pa.Table, rows, number: int) -> tuple[bytes, int, str | None]:
        arrays = []
        for column, kind in self.columns:
            values = table.column(column)
            if kind == EMAIL:
                values = EMAIL_RULE.arrow_stored(values)
            if values.null_count != len(values) and column not in self.required:
                blank = _blank(values)
                if blank.sum() > values.null_count:  # blank strings are stored as NULL, as the validator does
                    values = pc.if_else(pa.array(blank), pa.scalar(None, pa.string()), values)
            arrays.append(values)
        lines = pc.cast(pa.array(rows + (number + 1)), pa.string())
        location = pc.binary_join_element_wise(pa.scalar(self.prefix), lines, pa.scalar(""))
        out = pa.table([*arrays, location], names=[*[c for c, _ in self.columns], "_source_location"])
        if self.sink._sort:
            out = out.take(pc.sort_indices(out, sort_keys=[(self.key[0], "ascending")]))
        high = pc.max(out.column(self.cursor)).as_py()
        # COPY's text format, as the per-record path renders it: no value here holds a tab, line break,
        # backslash or quote (those lines went the careful way), so Arrow's CSV writer without quoting,
        # tab-separated, with NULL as \N and the empty drift column, writes exactly that. (Measured: the
        # server parses the text format about 10% cheaper than CSV.)
        null = pa.scalar("\\N")
        columns = [pc.fill_null(c, null) for c in out.columns] + [pa.repeat(null, out.num_rows)]
        # A double quote (JSON text from SQL) is a structural character for the writer: it goes through as
        # a control character (none is left in these rows) and comes back after.
        quoted = False
        for i, c in enumerate(columns):
            if pc.any(pc.match_substring(c, '"')).as_py():
                columns[i] = pc.replace_substring(c, '"', QUOTE_STAND_IN)
                quoted = True
        text = pa.table(columns, names=[f"c{i}" for i in range(len(columns))])
        sink = pa.BufferOutputStream()
        options = pa_csv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none", batch_size=1 << 16)
        try:
            pa_csv.write_csv(text, sink, write_options=options)
        except pa.ArrowInvalid:  # a value Arrow will not write unquoted (none is expected): escape in Python
            rendered = "".join(
                "\t".join(v.translate(COPY_ESCAPE) if v != "\\N" else v for v in row) + "\n"
                for row in zip(*(c.to_pylist() for c in text.columns), strict=True)
            )
            rendered = rendered.encode("utf-8")
            return rendered.replace(b"\x01", b'"') if quoted else rendered, out.num_rows, high
        rendered = sink.getvalue().to_pybytes()
        return rendered.replace(b"\x01", b'"') if quoted else rendered, out.num_rows, high


class Blocks(Columns):
    """One file's blocks through the fast path. ``careful(line, location, add)`` is the reader's own
    per-line code; it calls ``add(record, location, clean, raw)`` for a record that parsed.

    - **Triage** (NumPy over the bytes): a line goes the careful way when it is not plainly a record:
      empty or not ``{...}`` (JSON), a control character, DEL or backslash (escapes), longer than the
      field limit, not UTF-8, a double quote or the wrong number of delimiters (CSV).
    - **Parse** the rest with ``pyarrow.json`` / ``pyarrow.csv``, every field as text. A block Arrow
      refuses (a number where text belongs, a key given twice, …) is split in halves until the refused
      lines are found; they go the careful way. A field outside the contract (drift) sends the block the
      careful way."""

    def __init__(self, sink: Batcher, fmt: str, prefix: str, careful, fields: list[str] | None = None,
                 delimiter: str = ","):  # fmt: skip
        super().__init__(sink, prefix)
        self.fmt = fmt
        self.careful = careful
        self.fields = fields
        plain = len(delimiter) == 1 and delimiter.isascii() and delimiter not in '"\\\r\n'
        self.delimiter = ord(delimiter) if plain else None  # None: the careful way for the whole file
        self.refused = 0  # lines Arrow refused in this file (too many: the rest of the file goes the careful way)
        self.lines = 0
        if fmt == "jsonl":
            self.schema = pa.schema([(c, pa.string()) for c, _ in self.columns])
            self.parse_options = pa_json.ParseOptions(
                explicit_schema=self.schema, unexpected_field_behavior="infer", newlines_in_values=False
            )
        elif self.delimiter is not None:
            self.schema = pa.schema([(f"f{i}", pa.string()) for i in range(len(fields))])
            self.convert = pa_csv.ConvertOptions(
                column_types=self.schema, strings_can_be_null=False, quoted_strings_can_be_null=False
            )
            self.parse_options = pa_csv.ParseOptions(
                delimiter=chr(self.delimiter), quote_char=False, double_quote=False, escape_char=False,
                newlines_in_values=False, ignore_empty_lines=False,
            )  # fmt: skip

    @property
    def usable(self) -> bool:
        return (self.fmt == "jsonl" or self.delimiter is not None) and self.refused * 8 <= max(self.lines, 4096)

    # -- one block ------------------------------------------------------------------------------------
    def block(self, data: bytes, end: int, number: int) -> tuple[int, int] | None:
        """Lines ``data[:end]`` (``data[end - 1]`` is a newline), the first being line ``number + 1``.

        Returns None when the whole block went through; for CSV, (byte offset, lines before it) of a line
        that starts a record spanning several lines (a quoted line break): the caller reads the rest of
        the file the careful way from there.
        """
        buf = np.frombuffer(data, dtype=np.uint8, count=end)
        ends = np.flatnonzero(buf == 0x0A)
        n = len(ends)
        starts = np.empty(n, dtype=np.int64)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        lengths = ends - starts
        # A Windows line end (\r\n): the \r ends the line, it is not part of it (as for the csv module).
        crlf = (lengths > 0) & (buf[np.maximum(ends - 1, 0)] == 0x0D)
        last = ends - 1 - crlf  # the line's last byte
        good = (lengths - crlf > 0) & (lengths <= MAX_FIELD_CHARS)
        careful = buf < 0x20  # control characters (a tab in a tab-separated file is the delimiter)
        if self.fmt == "csv" and self.delimiter < 0x20:
            careful &= buf != self.delimiter
        careful |= buf == 0x5C  # backslash: JSON escapes (\u0000, lone surrogates, ...) and COPY's escape
        careful |= buf == 0x7F
        if self.fmt == "csv":
            careful |= buf == 0x22  # a double quote: quoted fields are parsed line by line, the careful way
        careful[ends] = False  # line ends are not inside lines
        careful[ends[crlf] - 1] = False
        flagged = np.flatnonzero(careful)
        if len(flagged):
            good[np.searchsorted(ends, flagged)] = False
        if self.fmt == "jsonl":
            good &= (buf[starts] == 0x7B) & (buf[np.maximum(last, 0)] == 0x7D)
        else:  # quoted fields are parsed line by line, the careful way; the field count must be right
            delimiters = np.flatnonzero(buf == self.delimiter)
            counts = np.bincount(np.searchsorted(ends, delimiters), minlength=n)
            good &= counts == len(self.fields) - 1
        if not data.isascii():
            for i in np.unique(np.searchsorted(ends, np.flatnonzero(buf >= 0x80))).tolist():
                if good[i]:
                    try:
                        data[starts[i] : ends[i]].decode("utf-8")
                    except UnicodeDecodeError:
                        good[i] = False
        stop = n
        if self.fmt == "csv":
            stop = self._csv_quotes(data, starts, ends, good, buf)
            good[stop:] = False
        self.lines += stop
        tables, rows = self._parse(data, starts, ends, np.flatnonzero(good[:stop]))
        table = pa.concat_tables(tables) if tables else None
        rows = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
        passed = np.zeros(stop, dtype=bool)
        if table is not None and table.num_rows:
            ok = self._check(table)
            if not ok.all():
                table, rows = table.filter(pa.array(ok)), rows[ok]
            passed[rows] = True
        self._finish(data, starts, ends, number, table, rows, np.flatnonzero(~passed))
        return None if stop == n else (int(starts[stop]), stop)

    def _csv_quotes(self, data: bytes, starts, ends, good, buf) -> int:
        """Lines holding a double quote go the careful way one by one while each is a whole record;
        the first that opens a quoted line break ends the fast path for this file (returns its index)."""
        quotes = np.flatnonzero(buf == 0x22)
        if not len(quotes):
            return len(ends)
        for i in np.unique(np.searchsorted(ends, quotes)).tolist():
            text = data[starts[i] : ends[i]].decode("utf-8", "replace").replace("\x00", "\ufffd")
            try:
                row = next(csv.reader([text + "\n"], delimiter=chr(self.delimiter)), [])
            except csv.Error:  # the careful way quarantines it
                return i
            if any("\n" in value for value in row):
                return i
        return len(ends)

    # -- parsing --------------------------------------------------------------------------------------
    def _gather(self, data: bytes, starts, ends, rows) -> bytes:
        """The lines ``rows`` (ascending indexes), each with its newline, as one buffer."""
        if not len(rows):
            return b""
        breaks = np.flatnonzero(np.diff(rows) != 1)
        first = np.concatenate(([rows[0]], rows[breaks + 1]))
        last = np.concatenate((rows[breaks], [rows[-1]]))
        if len(first) == 1:
            return data[starts[first[0]] : ends[last[0]] + 1]
        return b"".join(data[s : e + 1] for s, e in zip(starts[first].tolist(), ends[last].tolist(), strict=True))

    def _read(self, buf: bytes) -> pa.Table:
        if self.fmt == "jsonl":
            options = pa_json.ReadOptions(use_threads=False, block_size=len(buf) + 1)
            return pa_json.read_json(pa.BufferReader(buf), read_options=options, parse_options=self.parse_options)
        options = pa_csv.ReadOptions(use_threads=False, block_size=len(buf) + 1, column_names=list(self.schema.names))
        return pa_csv.read_csv(
            pa.BufferReader(buf), read_options=options, parse_options=self.parse_options, convert_options=self.convert
        )

    def _parse(self, data: bytes, starts, ends, rows) -> tuple[list, list]:
        """Arrow tables of the lines ``rows`` (and which lines each holds); refused lines are left out."""
        if not len(rows):
            return [], []
        if not self.usable:
            return [], []
        try:
            table = self._read(self._gather(data, starts, ends, rows))
        except (pa.ArrowInvalid, UnicodeDecodeError):
            table = None
        if table is not None and table.num_rows == len(rows):
            if table.num_columns != len(self.schema):  # a field outside the contract: schema drift
                return [], []
            return [self._columns_of(table)], [rows]
        if len(rows) <= SMALLEST:
            self.refused += len(rows)
            return [], []
        half = len(rows) // 2
        a_tables, a_rows = self._parse(data, starts, ends, rows[:half])
        b_tables, b_rows = self._parse(data, starts, ends, rows[half:])
        return a_tables + b_tables, a_rows + b_rows

    def _columns_of(self, table: pa.Table) -> pa.Table:
        """The contract's columns, in its order (a CSV's missing ones as nulls)."""
        if self.fmt == "jsonl":
            return table
        arrays = []
        for column, _ in self.columns:
            if column in self.fields:
                arrays.append(table.column(self.fields.index(column)))
            else:
                arrays.append(pa.nulls(table.num_rows, pa.string()))
        return pa.table(arrays, names=[c for c, _ in self.columns])

    # -- the careful lines ---------------------------------------------------------------------------
    def _finish(self, data: bytes, starts, ends, number: int, table, rows, careful) -> None:
        sink = self.sink
        checked: list[tuple[int, tuple]] = []  # (line index, Batcher.check result) of careful lines that passed
        for i in careful.tolist():
            line = data[starts[i] : ends[i]]

            def add(record, location, clean=False, raw=None, _i=i) -> None:
                result = sink.check(record, location, clean, raw)
                if result is not None:
                    checked.append((_i, result))

            self.careful(line, f"{self.prefix}{number + 1 + i}", add)
        self._block = (data, starts, ends)
        self._settle(number, table, rows, checked)

    def _duplicate(self, i, key, line, first) -> None:
        data, starts, ends = self._block
        raw = data[starts[i] : ends[i]]
        if self.fmt == "jsonl":
            record = dict(zip(self.key, key if len(self.key) > 1 else (key,), strict=True))
        else:
            raw = record = _csv_row(raw, self.delimiter)
        self.sink.duplicate(f"{self.prefix}{line}", record, raw, first)


class Rows(Columns):
    """A SQL table's rows (tuples in ``fields`` order) through the fast path, one fetch at a time.

    Every value of a row that goes the fast way is text (or NULL; or an integer in an INTEGER column,
    written as ``str`` does, which is what the validator stores) without control characters, backslash,
    DEL or surrogates, and the row's text is within the field limit: what the per-record path calls a
    clean row. Any other row — another type, a dirty or long value — and any row the column checks
    cannot pass goes the careful way: ``Batcher.check`` on the row, as ``readers/sql.py``'s ``_add_rows`` calls it.
    """

    def __init__(self, sink: Batcher, prefix: str, fields: list[str], careful):
        super().__init__(sink, prefix)
        self.fields = fields
        self.careful = careful  # careful(row) -> the reader's ``clean`` flag for that row
        self.struct = pa.struct([(f"f{i}", pa.string()) for i in range(len(fields))])
        key = self.key[0]
        text_key = len(self.key) == 1 and sink.entity.columns[key] == TEXT and key in fields
        self.key_index = fields.index(key) if text_key else None

    def rows(self, rows: list, number: int) -> None:
        """Rows ``number + 1``, ``number + 2``, … of the table."""
        n = len(rows)
        careful = np.zeros(n, dtype=bool)
        by_field = self._arrays(rows, careful)
        keys = None
        if self.key_index is not None:  # a text key is stored as it is: the rows' own values are the keys
            k = self.key_index

            def keys(passed):
                return [row[k] for row in rows] if len(passed) == n else [rows[i][k] for i in passed.tolist()]

        self._piece(by_field, careful, n, number, rows, keys)

    @staticmethod
    def takes(batch: pa.RecordBatch) -> bool:
        """Whether ``batch`` can go through ``batch``: every column text (valid UTF-8) or 64-bit integers
        (what ADBC's SQLite driver makes of INTEGER values, and of a column only NULL in the batch)."""
        for values in batch.columns:
            if pa.types.is_int64(values.type) or pa.types.is_null(values.type):
                continue
            if not pa.types.is_string(values.type):
                return False
            try:
                values.validate(full=True)  # UTF-8: the standard library's sqlite3 refuses what is not
            except pa.ArrowInvalid:
                return False
        return True

    def batch(self, batch: pa.RecordBatch, number: int, integers: dict | None = None) -> None:
        """Rows ``number + 1``, … of the table as an Arrow record batch (ADBC, pull/readers/sql.py), columns in
        ``fields`` order, of the types ``takes`` accepts: the same as ``rows`` on the same rows as tuples. Text
        is as the tuples' ``str``; an INTEGER column's integers are written as ``str`` writes them (Arrow's
        cast does the same), or come as that text already, marked in ``integers`` (column index -> per row);
        an integer in another column sends its row the careful way, as ``_as_text`` does. The careful and
        duplicate rows are made into tuples (``str``, ``int``, ``None``) one by one."""
        n = batch.num_rows
        careful = np.zeros(n, dtype=bool)
        by_field = {}
        for name, values in zip(self.fields, batch.columns, strict=True):
            if pa.types.is_string(values.type):
                by_field[name] = values
            elif values.null_count == n:
                by_field[name] = pa.nulls(n, pa.string())
            elif self.sink.entity.columns[name] == INTEGER:
                by_field[name] = pc.cast(values, pa.string())
            else:
                careful |= _numpy(values.is_valid())
                by_field[name] = pa.nulls(n, pa.string())
        keys = None
        if self.key_index is not None and pa.types.is_string(batch.column(self.key_index).type):
            column = batch.column(self.key_index)

            def keys(passed):
                return (column if len(passed) == n else column.take(pa.array(passed))).to_pylist()

        self._piece(by_field, careful, n, number, _BatchRows(batch, integers or {}), keys)

    def _piece(self, by_field: dict, careful: np.ndarray, n: int, number: int, rows, keys) -> None:
        """A piece's text columns (``careful`` marks the rows already bound the careful way) through the
        checks; ``rows[i]``: the row as the per-record path takes it; ``keys(passed)``: the fast rows' keys
        as Python values, when the caller has them."""
        arrays = []
        total = np.zeros(n, dtype=np.int64)
        for column, _ in self.columns:
            array = by_field.get(column)
            if array is None:
                arrays.append(pa.nulls(n, pa.string()))
                continue
            if array.null_count != n:
                dirty, lengths = _dirty(array)
                careful |= dirty
                total += lengths + 1  # bytes: at least the characters
            arrays.append(array)
        careful |= total > MAX_FIELD_CHARS
        table = pa.table(arrays, names=[c for c, _ in self.columns])
        passed = np.flatnonzero(~careful)
        if len(passed) < n:
            table = table.take(pa.array(passed))
        if table.num_rows:
            ok = self._check(table)
            if not ok.all():
                table, passed = table.filter(pa.array(ok)), passed[ok]
        self._rows = rows
        fast = np.zeros(n, dtype=bool)
        fast[passed] = True
        sink = self.sink
        checked = []
        for i in np.flatnonzero(~fast).tolist():
            row = rows[i]
            result = sink.check(row, f"{self.prefix}{number + 1 + i}", self.careful(row), row)
            if result is not None:
                checked.append((i, result))
        self._settle(number, table, passed, checked, keys(passed) if keys else None)
        self._rows = None

    def _arrays(self, rows: list, careful: np.ndarray) -> dict:
        """The rows' fields as Arrow text arrays; ``careful`` marks the rows holding a value of another type."""
        # (Only str and None: Arrow would take bytes, a BLOB, as text too, which the validator does not.)
        if set(map(type, chain.from_iterable(rows))) <= TEXT_TYPES:
            try:
                return dict(zip(self.fields, pa.array(rows, self.struct).flatten(), strict=True))
            except Exception:  # noqa: BLE001 - a lone surrogate, a row object Arrow does not take: field by field
                pass
        out = {}
        for name, values in zip(self.fields, zip(*rows, strict=True), strict=True):
            array, odd = _as_text(values, self.sink.entity.columns[name] == INTEGER)
            careful |= odd
            out[name] = array
        return out

    def _duplicate(self, i, key, line, first) -> None:
        row = self._rows[i]
        self.sink.duplicate(f"{self.prefix}{line}", row, row, first)


class _BatchRows:
    """A record batch's rows as the tuples the standard library's sqlite3 gives, made when asked for."""

    def __init__(self, batch: pa.RecordBatch, integers: dict):
        self.columns = batch.columns
        self.integers = integers  # column index -> per row: an integer, given as its text

    def __getitem__(self, i: int) -> tuple:
        row = [column[i].as_py() for column in self.columns]
        for at, mask in self.integers.items():
            if mask[i]:
                row[at] = int(row[at])
        return tuple(row)


def _dirty(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Per value of a text array: whether it holds a control character, DEL or backslash (what the
    per-record path calls not clean), and its length in bytes (0 for NULL)."""
    n = len(array)
    _, offsets_buf, data_buf = array.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=array.offset + n + 1)[array.offset :]
    lengths = np.diff(offsets).astype(np.int64)
    dirty = np.zeros(n, dtype=bool)
    if data_buf is not None and offsets[-1] > offsets[0]:
        data = np.frombuffer(data_buf, dtype=np.uint8, count=int(offsets[-1]))[offsets[0] :]
        bad = np.flatnonzero((data < 0x20) | (data == 0x5C) | (data == 0x7F))
        if len(bad):
            dirty[np.searchsorted(offsets, bad + offsets[0], side="right") - 1] = True
    return dirty, lengths


def _as_text(values, integers: bool) -> tuple[pa.Array, np.ndarray]:
    """Values of mixed types as text, and which of them only the careful way may take (another type;
    in an INTEGER column, an ``int`` is written as ``str`` writes it, what the validator stores)."""
    text = []
    odd = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):
        if v is None:
            text.append(None)
        elif v.__class__ is str:
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                odd[i] = True
                v = None
            text.append(v)
        elif integers and v.__class__ is int:
            text.append(str(v))
        else:
            odd[i] = True
            text.append(None)
    return pa.array(text, pa.string()), odd


def _json_valid(values):
    """Per value: JSON text the validator stores as it is (its own test, once per distinct value)."""
    encoded = pc.dictionary_encode(values)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    out = []
    for chunk in chunks:
        valid = pa.array([_json_ok(v) for v in chunk.dictionary.to_pylist()], pa.bool_())
        out.append(pc.take(valid, chunk.indices))
    return pa.chunked_array(out, pa.bool_())


def _numpy(mask) -> np.ndarray:
    """An Arrow boolean (chunked) array as NumPy, null as False."""
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)


def _blank(values) -> np.ndarray:
    """Per value: null, empty or only whitespace (Python's ``str.isspace``, as the validator decides).

    Only a value that starts with a space or a non-ASCII character can be whitespace (the other
    whitespace characters are controls, which never reach the fast path): those few are asked in Python.
    """
    out = np.zeros(len(values), dtype=bool)
    at = 0
    for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
        n = len(chunk)
        if not n:
            continue
        part = out[at : at + n]
        at += n
        _, offsets_buf, data_buf = chunk.buffers()
        offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=chunk.offset + n + 1)[chunk.offset :]
        lengths = np.diff(offsets)
        if chunk.null_count:
            part |= _numpy(chunk.is_null())
        part |= lengths == 0
        if data_buf is None:
            continue
        data = np.frombuffer(data_buf, dtype=np.uint8)
        filled = np.flatnonzero(lengths > 0)
        first = data[offsets[filled]]
        maybe = filled[(first == 0x20) | (first >= 0x80)]
        if len(maybe):
            for i in maybe.tolist():
                value = chunk[i].as_py()
                if value is not None and value.isspace():
                    part[i] = True
    return out


def _csv_row(raw: bytes, delimiter: int) -> list[str]:
    """A CSV line as the per-record path keeps a rejected row (its fields)."""
    return next(csv.reader([raw.decode("utf-8") + "\n"], delimiter=chr(delimiter)), [])
