"""Landing-zone files (a local path or any fsspec URL: s3://, gs://, ...): JSON Lines, CSV and Parquet.

Each file is read in blocks of ``READ_BYTES``; whole blocks go through the Arrow fast path (``pull/fast.py``)
where it applies, and whatever it cannot take, the careful way, line by line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import orjson

from leadflow.pull import fast
from leadflow.pull.batch import Batcher, drift_column
from leadflow.pull.readers.base import DIRTY_TEXT, SourceError, TruncatedFile
from leadflow.pull.validate import COPY_ESCAPE, MAX_FIELD_CHARS

READ_BYTES = 4 << 20
# The csv module refuses a field over 131,072 characters by default, which used to end the whole source's
# pull. Fields up to this size are parsed, so the contract's oversize rule (10,000) quarantines the record
# by name; a larger one (an unclosed quote running through a file) quarantines that record as a CSV error.
CSV_FIELD_LIMIT = fast.CSV_FIELD_LIMIT


def _no_constants(token: str):
    raise ValueError(f"{token} is not valid JSON")


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
        if len(body) > MAX_FIELD_CHARS or DIRTY_TEXT(body):
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
    dirty = len(body) > MAX_FIELD_CHARS or DIRTY_TEXT(body) is not None
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
