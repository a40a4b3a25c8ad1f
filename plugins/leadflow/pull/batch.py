"""Turn parsed source records into COPY-ready chunks: validate, de-duplicate, quarantine, account.

A ``Batcher`` serves one unit of loading (one file, or one SQL table / API object pull). Readers call
``add`` for every parsed record and ``reject`` for input that is not even a record; the batcher emits
``Chunk``s of PostgreSQL text-format rows (and quarantine rows) through ``emit`` as they fill up, so
memory stays bounded whatever the size of the source. ``finish`` returns the unit's accounting:
every record read is either in a chunk (it will be loaded) or in quarantine — never neither.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from leadflow.pull.contract import META_COLUMNS, Entity
from leadflow.pull.validate import COPY_ESCAPE, IGNORED, Rejected, Source, Validator, _scalar_text

log = logging.getLogger(__name__)

CHUNK_ROWS = 20_000
CHUNK_BYTES = 4 << 20
MAX_PAYLOAD = 100_000
_IDENT = re.compile(r"[^a-z0-9_]+")


# PostgreSQL's system columns: every table has them, so no field may become a column of that name.
SYSTEM_COLUMNS = frozenset({"tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"})


def drift_column(name: str) -> str:
    """A safe column name for a field (schema drift adds unknown ones as text): ``Campaign Id`` -> ``campaign_id``.

    A field named like a PostgreSQL system column (``xmin``, ``ctid``, ...) becomes ``src_xmin``, ``src_ctid``.
    """
    clean = _IDENT.sub("_", str(name).strip().lstrip("\ufeff").lower()).strip("_")[:60] or "unnamed"
    clean = clean if not clean[0].isdigit() else f"c_{clean}"
    return f"src_{clean}" if clean in SYSTEM_COLUMNS else clean


@dataclass
class Chunk:
    """COPY text rows ``<contract columns>\\t<location>\\t<extra>`` and the quarantined records of one stretch of input.

    ``extras``: how many rows carry drift fields in ``<extra>`` (JSON); when none do, every row ends in
    ``\\t\\N\\n`` and the loader can COPY the chunk straight into raw (see ``pull/loader.py``).
    """

    rows: bytes
    count: int
    quarantine: list[tuple]  # (location, record_key, field, reason, payload)
    extras: int = 0
    flags: list[tuple] = field(default_factory=list)  # (record_key, flag, location) of staged records


@dataclass
class Summary:
    read: int = 0
    staged: int = 0
    quarantined: int = 0
    max_cursor: str | None = None
    drift: list[str] = field(default_factory=list)
    # checks found while reading (flag -> SQL condition over the loaded row ``r``), like a source's ``flags:``
    flags: dict[str, str] = field(default_factory=dict)


def payload_bytes(raw, text: str) -> bytes | None:
    """The exact input when ``payload_text`` could not keep it (not UTF-8, a NUL byte, cut at 100 kB), else None."""
    if isinstance(raw, bytes | bytearray):
        raw = bytes(raw)
        try:
            lossy = b"\x00" in raw or raw.decode("utf-8") != text
        except UnicodeDecodeError:
            lossy = True
        return raw if lossy else None
    original = _as_text(raw)
    return original.encode("utf-8", "surrogatepass") if original != text else None


def payload_text(raw) -> str:
    """The raw payload of a rejected record as text PostgreSQL can store (no NUL), at most 100 kB."""
    text = _as_text(raw).replace("\x00", "\ufffd")
    if any("\ud800" <= ch <= "\udfff" for ch in text if ch >= "\ud800"):
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:MAX_PAYLOAD]


def _as_text(raw) -> str:
    if isinstance(raw, bytes | bytearray):
        text = bytes(raw).decode("utf-8", "replace")
    elif isinstance(raw, str):
        text = raw
    elif isinstance(raw, dict):
        text = json.dumps(raw, ensure_ascii=False, default=str)
    else:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(["" if v is None else v for v in raw])
        text = buf.getvalue()
    return text


class Batcher:
    def __init__(
        self,
        entity: Entity,
        as_of: datetime,
        emit: Callable[[Chunk], None],
        tolerance: timedelta = timedelta(hours=1),
        mapping: dict[str, Source] | None = None,
        tz: tzinfo | None = None,
    ):
        self.entity = entity
        self.tz = tz
        self._record_flags: list[tuple] = []  # (record key, flag, location) the validator raised for staged records
        self.as_of = as_of
        self.tolerance = tolerance
        self.mapping = mapping or {}
        self._no_extras = IGNORED + "*" in self.mapping  # extra_columns: false
        self.emit = emit
        self.summary = Summary()
        self._seen: dict = {}
        self._rows: list[str] = []
        self._limit = CHUNK_ROWS
        self._max_cursor = ""
        self._quarantine: list[tuple] = []
        self._extra_rows = 0
        self._drift: dict[str, None] = {}
        self._reserved = set(entity.columns) | set(META_COLUMNS) | {"_extra"}
        self._renamed: dict[str, str] = {}  # a field whose name another field already has -> its own column
        self._flags: dict[str, str] = {}
        columns = list(entity.columns)
        self._pk = [columns.index(c) for c in entity.primary_key]
        self._cursor = columns.index(entity.cursor)
        self._sort = columns[0] == entity.primary_key[0]
        # Keys seen in this unit -> where: a location, or a line number of ``line_prefix`` (the Arrow fast path).
        self.line_prefix = ""
        self.layout(None)

    # -- layout --------------------------------------------------------------------------------------
    def layout(self, fields: list[str] | None) -> list[str]:
        """Records are dicts (``None``) or sequences with these field names; returns missing required fields."""
        self.validator = Validator(self.entity, self.as_of, self.tolerance, fields, self.mapping, self.tz)
        self._notes = self.validator.notes
        self._row = self.validator.row
        self._fields = fields
        consumed = self.validator.consumed | set(self.entity.columns)
        if fields is None or self._no_extras:
            self._known = frozenset(consumed)
            self._extra_index = []
        else:
            self._extra_index = [
                (i, drift_column(name))
                for i, name in enumerate(fields)
                if name not in consumed and drift_column(name) not in self._reserved
            ]
            for _, name in self._extra_index:
                self._drift.setdefault(name)
        key_sources = [self.validator.mapping[c] for c in self.entity.primary_key]
        self._key_getters = [self._raw_getter(s) for s in key_sources]
        return self.validator.missing_fields()

    def _raw_getter(self, src: Source) -> Callable:
        if src.value is not None:
            return lambda r: src.value
        name = src.field or src.key
        if self._fields is None:
            return lambda r: r.get(name) if isinstance(r, dict) else None
        if name in self._fields:
            i = self._fields.index(name)
            return lambda r: r[i] if not isinstance(r, dict) and i < len(r) else None
        return lambda r: None

    def record_key(self, record) -> str | None:
        try:
            parts = [g(record) for g in self._key_getters]
        except Exception:  # a malformed record: no key to report
            return None
        if all(p is None for p in parts):
            return None
        return ":".join("" if p is None else str(p) for p in parts)

    # -- intake --------------------------------------------------------------------------------------
    def add(self, record, location: str, clean: bool = False, raw=None) -> None:
        """One parsed record: staged for loading, or quarantined with the reason."""
        checked = self.check(record, location, clean, raw)
        if checked is not None:
            self.stage(checked)

    def check(self, record, location: str, clean: bool = False, raw=None) -> tuple | None:
        """``add`` in two steps, for readers that decide duplicates themselves in line order (pull/fast.py):
        validate now (a bad record is quarantined: None), ``stage`` the result later."""
        try:
            line, key, cursor = self._row(record, clean, location)
        except Rejected as err:
            self._notes.clear()
            self._reject(location, record, raw, err.problem.reason, err.problem.field)
            return None
        if self._notes:
            notes = tuple(self._notes)
            self._notes.clear()
            return line, key, cursor, record, location, clean, raw, notes
        return line, key, cursor, record, location, clean, raw, ()

    def stage(self, checked: tuple) -> None:
        """The second step of ``add``: the duplicate check and the staging of a ``check``ed record."""
        line, key, cursor, record, location, clean, raw, notes = checked
        first = self._seen.setdefault(key, location)
        if first is not location:
            self.duplicate(location, record, raw, first)
            return
        if notes:
            text_key = ":".join("" if k is None else str(k) for k in key) if isinstance(key, tuple) else str(key)
            self._record_flags.extend((text_key, flag, location) for flag in dict.fromkeys(notes))
        if cursor > self._max_cursor:
            self._max_cursor = cursor
        if self._fields is None:
            extra = "\\N" if self._no_extras or record.keys() <= self._known else self._dict_extras(record)
        else:
            extra = self._row_extras(record) if self._extra_index else "\\N"
        if extra != "\\N":
            self._extra_rows += 1
        if not clean:
            location = location.translate(COPY_ESCAPE)
        self._rows.append(f"{line}\t{location}\t{extra}")
        if len(self._rows) >= self._limit:
            self.flush()

    def duplicate(self, location: str, record, raw, first) -> None:
        """Quarantine a record whose key this unit has already staged (at ``first``)."""
        where = first if first.__class__ is str else f"{self.line_prefix}{first}"
        reason = f"duplicate key in batch (first seen at {where})"
        self._reject(location, record, raw, reason, self.entity.primary_key[0])

    def _dict_extras(self, record: dict) -> str:
        return self._extras({k: v for k, v in record.items() if k not in self._known})

    def _row_extras(self, record) -> str:
        return self._extras({name: record[i] for i, name in self._extra_index if i < len(record)})

    def distinct_fields(self, fields: list[str]) -> list[str]:
        """Header names made distinct: a repeat (``email`` … ``Email``) is kept as ``email_2`` and flagged."""
        out: list[str] = []
        for name in fields:
            if name in out:
                name = self._repeat(name, set(fields) | set(out))
            self._note_renamed(name)
            out.append(name)
        return out

    def _note_renamed(self, name: str) -> None:
        """A field named like a system column was renamed (``xmin`` -> ``src_xmin``): its records say so."""
        if name.startswith("src_") and name[4:] in SYSTEM_COLUMNS and f"renamed_field:{name}" not in self._flags:
            log.warning("%s: field %r is a PostgreSQL system column name; kept as %r", self.entity.key, name[4:], name)
            self._flags[f"renamed_field:{name}"] = f"r.{name} is not null"

    def _repeat(self, name: str, taken: set[str]) -> str:
        n = 2
        while f"{name}_{n}" in taken or f"{name}_{n}" in self._reserved:
            n += 1
        new = f"{name}_{n}"
        log.warning("%s: field %r repeats %r (names differ only in case or punctuation); kept as %r, flagged "
                    "duplicate_header:%s", self.entity.key, name, name, new, new)  # fmt: skip
        self._flags[f"duplicate_header:{new}"] = f"r.{new} is not null"
        return new

    def _extras(self, fields: dict) -> str:
        out = {}
        for key, value in fields.items():
            name = drift_column(key)
            if name in self._reserved and key not in self._known:  # e.g. "Email" beside "email": keep it apart
                name = self._renamed.get(key) or self._renamed.setdefault(key, self._repeat(name, set(self._drift)))
            if name in self._reserved or name.startswith("_"):
                continue
            if name not in self._drift:
                self._note_renamed(name)
            self._drift.setdefault(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            text = value if isinstance(value, str) else _scalar_text(value)
            if not text.isascii():  # a lone surrogate (from JSON) cannot be stored: replace it
                text = text.encode("utf-8", "replace").decode("utf-8")
            out[name] = text
        if not out:
            return "\\N"
        text = json.dumps(out, ensure_ascii=True, separators=(",", ":"))
        return text.replace("\\u0000", "\\ufffd").translate(COPY_ESCAPE)

    def reject(self, location: str, raw, reason: str, field: str | None = None, record=None) -> None:
        """Input that could not even be parsed into a record (a bad JSON line, a ragged CSV row)."""
        self._reject(location, record, raw, reason, field)

    def _reject(self, location, record, raw, reason, field) -> None:
        key = self.record_key(record) if record is not None else None
        given = raw if raw is not None else record if record is not None else ""
        payload = payload_text(given)
        self._quarantine.append((location, key, field, reason, payload, payload_bytes(given, payload)))
        self.summary.quarantined += 1
        if len(self._quarantine) >= CHUNK_ROWS:
            self.flush()

    def add_rendered(self, rows: bytes, count: int, max_cursor: str | None) -> None:
        """Rows already checked, de-duplicated and rendered (no drift fields) by the Arrow fast path (pull/fast.py)."""
        if not count:
            return
        self.emit(Chunk(rows, count, [], 0))
        self.summary.staged += count
        if max_cursor is not None and max_cursor > self._max_cursor:
            self._max_cursor = max_cursor

    def flush(self) -> None:
        if not self._rows and not self._quarantine:
            return
        data = b""
        if self._rows:
            if self._sort:
                # Rows start with the key: in key order, PostgreSQL's primary-key index takes them in far
                # fewer page visits than in arrival order (the chunk is one COPY; its order means nothing).
                self._rows.sort()
            data = ("\n".join(self._rows) + "\n").encode("utf-8")
            # Bound a chunk by bytes too: wide records make smaller chunks.
            self._limit = max(100, min(CHUNK_ROWS, CHUNK_BYTES * len(self._rows) // max(len(data), 1)))
        self.emit(Chunk(data, len(self._rows), self._quarantine, self._extra_rows, self._record_flags))
        self.summary.staged += len(self._rows)
        self._record_flags = []
        self._rows = []
        self._quarantine = []
        self._extra_rows = 0

    def finish(self) -> Summary:
        self.flush()
        self.summary.read = self.summary.staged + self.summary.quarantined
        self.summary.max_cursor = self._max_cursor[:19] or None
        self.summary.drift = list(self._drift)
        self.summary.flags = dict(self._flags)
        return self.summary
