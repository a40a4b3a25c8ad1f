"""Check one source record against the raw contract and render it for COPY, or say exactly why not.

``Validator`` (one per entity and record layout: dicts from JSON, or positional rows from CSV, Parquet
and SQL) is compiled to a small Python function when the load starts; anything not already in the
contract's shape takes the careful path, ``coerce_value``, which names the field and the reason. The
e-mail and timestamp rules are ``pull/rules.py``'s, which the Arrow fast path (``pull/fast.py``) renders
too. The quarantine reasons (part of the product; tests assert them verbatim) are listed in
docs/pull.md (Bad input).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import orjson

from leadflow.pull.contract import BOOLEAN, EMAIL, INTEGER, JSON, NUMERIC, TEXT, TIMESTAMP, Entity
from leadflow.pull.rules import (
    EMAIL_RULE,
    INTEGER_SHAPE,
    TIMESTAMP_RULE,
    UNDECLARED_UTC,
    Problem,
    Rejected,
    iso_z,
    quote,
    reject,
)

CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|[\ud800-\udfff]")
MAX_FIELD_CHARS = 10_000
# JSON columns an export often fills with plain text (a CSV column of conversation topics: "asked about pricing"):
# text that is not JSON is kept as one JSON string, which staging maps to topics (seeds/topic_keywords.csv).
FREE_TEXT_JSON = {"topics"}
TRUE = {"true", "t", "1", "yes", "y"}
FALSE = {"false", "f", "0", "no", "n"}
BIGINT = (-(2**63), 2**63 - 1)

# COPY text format: backslash, tab, newline and carriage return must be escaped.
COPY_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and (not value or value.isspace()))


def _scalar_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if isinstance(value, datetime):
        return iso_z(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def coerce_value(
    column: str, kind: str, value, future_limit: datetime, tz: tzinfo = UTC, note: Callable | None = None
) -> str | None:
    """One field to its COPY text form (None = NULL); raises Rejected naming the field and the reason.

    ``tz`` is the source's time zone for timestamps without an offset; ``note(flag)`` is told of what was
    taken as it came but deserves a look (``naive_timestamp:<column>``, ``nested_value:<column>``).
    """
    if _blank(value):
        return None
    if isinstance(value, str):
        if len(value) > MAX_FIELD_CHARS:
            reject(column, f"oversize field: {len(value)} characters (limit {MAX_FIELD_CHARS})")
        bad = CONTROL_RE.search(value)
        if bad:
            reject(column, "invalid Unicode in field" if bad.group() >= "\ud800" else "control characters in field")
    if kind == TEXT:
        if isinstance(value, dict | list) and note is not None:  # stored as JSON text: flagged, not silent
            note(f"nested_value:{column}")
        return value if isinstance(value, str) else _scalar_text(value)
    if kind == EMAIL:
        return EMAIL_RULE.coerce(column, _scalar_text(value))
    if kind == TIMESTAMP:
        return TIMESTAMP_RULE.coerce(column, value, future_limit, tz, note)
    if kind == INTEGER:
        return _integer(column, value)
    if kind == NUMERIC:
        return _numeric(column, value)
    if kind == BOOLEAN:
        if isinstance(value, bool):
            return "true" if value else "false"
        text = _scalar_text(value).strip().lower()
        if text in TRUE:
            return "true"
        if text in FALSE:
            return "false"
        reject(column, f"not a boolean: {quote(value)}")
    if kind == JSON:
        return _json(column, value)
    raise AssertionError(f"unknown contract type {kind}")


def _integer(column: str, value) -> str:
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str | Decimal):
        try:
            dec = Decimal(str(value).strip())
            if dec.is_finite() and dec == dec.to_integral_value():
                number = int(dec)
        except (InvalidOperation, ValueError):
            pass
    if number is None or not BIGINT[0] <= number <= BIGINT[1]:
        reject(column, f"not an integer: {quote(value)}")
    return str(number)


def _numeric(column: str, value) -> str:
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        if not number.is_finite() or abs(number.adjusted()) > 100_000:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        reject(column, f"not a number: {quote(value)}")
    return str(number)


def _json_ok(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _no_constants(token: str):
    raise ValueError(f"{token} is not JSON")


def _json(column: str, value) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_constant=_no_constants)
        except ValueError:
            if column not in FREE_TEXT_JSON:
                reject(column, "invalid JSON in field")
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
    except ValueError:
        reject(column, "invalid JSON in field")
    if "\\u0000" in text:  # PostgreSQL's jsonb cannot hold NUL
        reject(column, "control characters in field")
    if CONTROL_RE.search(text):
        reject(column, "invalid Unicode in field")
    return text


# -- the compiled validator ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """Where one contract column comes from: a field of the record, a constant, a lookup, a template, or a
    field's values translated by a value map."""

    field: str | None = None
    value: str | None = None
    lookup: dict | None = None  # key value -> looked-up value
    key: str | None = None  # the record's field whose value is looked up
    default: str | None = None  # field used when the lookup finds nothing
    template: tuple | None = None  # ((literal, field or _line / _file or None), ...): see parse_template
    values: dict | None = None  # the field's text value -> what the column gets (other values pass unchanged)

    @property
    def fields(self) -> list[str]:
        """The record's fields this column reads."""
        names = [self.field, self.key, self.default, *(name for _, name in self.template or ())]
        return [n for n in names if n and n not in POSITIONS]


IGNORED = "_ignored:"  # mapping entries named IGNORED + field: a field that is neither mapped nor an extra column
POSITIONS = ("_line", "_file")  # what a template may use besides the record's fields


def parse_template(text: str, normalise: Callable[[str], str]) -> tuple:
    """``"shopper-{_line}"`` -> (("shopper-", "_line"),): literal text, then a field (``normalise``d) or a position."""
    import string

    parts = []
    try:
        for literal, name, spec, conversion in string.Formatter().parse(text):
            if spec or conversion:
                raise ValueError("no format specs or conversions")
            if name is not None and not name:
                raise ValueError("an empty {}")
            parts.append((literal, None if name is None else name if name in POSITIONS else normalise(name)))
    except ValueError as err:
        raise ValueError(f"template {text!r}: {err}") from None
    if not any(name for _, name in parts):
        raise ValueError(f"template {text!r} names no field (use {{value: ...}} for a constant)")
    return tuple(parts)


def _position(location: str | None) -> tuple[str | None, str | None]:
    """(file, line) of a reader's location ``<file>:<line>``."""
    if not location:
        return None, None
    name, _, line = location.rpartition(":")
    return (name or None), (line if line.isdigit() else None)


def _render(parts: tuple, getters: list, r, location: str | None) -> str | None:
    """A template's text for one record; None (the column is missing) when any part is missing or blank."""
    out = []
    where = _position(location) if any(name in POSITIONS for _, name in parts) else (None, None)
    for (literal, name), get in zip(parts, getters, strict=True):
        out.append(literal)
        if name is None:
            continue
        value = where[1] if name == "_line" else where[0] if name == "_file" else get(r)
        if value is None or (value.__class__ is str and (not value or value.isspace())):
            return None
        out.append(value if value.__class__ is str else _scalar_text(value))
    return "".join(out)


class Validator:
    """``validator(record, clean)`` -> COPY text values in contract column order; raises ``Rejected``.

    ``fields`` None: records are dicts (JSON, API). Otherwise records are sequences in this order.
    ``clean`` promises that no string in the record holds a control character, a backslash, a tab or
    a line break and none is longer than the limit (readers check whole lines or pages at once);
    the fast path relies on it, the careful path checks everything. The common case, a clean string
    already in the contract's shape, costs a dictionary lookup and, for e-mails and timestamps, one
    regular-expression match. Output values are PostgreSQL text-format strings (None = NULL) that COPY
    into the typed stage table can never reject.
    """

    def __init__(
        self,
        entity: Entity,
        as_of: datetime,
        tolerance: timedelta = timedelta(hours=1),
        fields: list[str] | None = None,
        mapping: dict[str, Source] | None = None,
        tz: tzinfo | None = None,
    ):
        self.entity = entity
        self.tz = tz or UNDECLARED_UTC
        self.notes: list[str] = []  # flags raised by the record being checked (the caller clears them)
        self.future_limit = as_of + tolerance
        self.fields = fields
        self.mapping = dict(mapping or {})
        for column in entity.columns:
            self.mapping.setdefault(column, Source(field=column))
        self.consumed = {f for s in self.mapping.values() for f in s.fields}
        self.check: Callable = self._compile()

    def missing_fields(self) -> list[str]:
        """Required columns whose source field a positional layout lacks (schema drift that fails a file)."""
        if self.fields is None:
            return []
        have = set(self.fields)
        out = []
        for column in self.entity.required:
            src = self.mapping[column]
            if src.value is not None:
                continue
            needed = src.fields if src.template else [f for f in (src.field, src.key) if f]
            if any(f not in have for f in needed) and not (src.default and src.default in have):
                out.append(needed[0] if needed else column)
        return out

    def _getter(self, name: str | None) -> str:
        if name is None:
            return "None"
        if self.fields is None:
            return f"r.get({name!r})"
        if name in self.fields:
            return f"r[{self.fields.index(name)}]"
        return "None"

    def _template(self, parts: tuple) -> Callable:
        getters = [eval(f"lambda r: {self._getter(name)}") if name else None for _, name in parts]  # noqa: S307
        return lambda r, location: _render(parts, getters, r, location)

    def _compile(self) -> Callable:
        columns = list(self.entity.columns.items())
        env = {
            "Rejected": Rejected,
            "Problem": Problem,
            "slow": coerce_value,
            "FL": self.future_limit,
            "TZ": self.tz,
            "NOTE": self.notes.append,
            "TS": TIMESTAMP_RULE.canonical.match,
            "INT": INTEGER_SHAPE.match,
            "EM": EMAIL_RULE.match,
            "JOK": _json_ok,
            "LO": TIMESTAMP_RULE.lowest,
            "HI": TIMESTAMP_RULE.highest(self.future_limit),
            "K": [],
            "L": [],
            "TP": [],
            "VM": [],
        }
        code = ["def check(r, clean, loc=None):"]
        for i, (column, _) in enumerate(columns):
            src = self.mapping[column]
            if src.template is not None:
                env["TP"].append(self._template(src.template))
                code.append(f"    v{i} = TP[{len(env['TP']) - 1}](r, loc)")
            elif src.values is not None:
                env["VM"].append(src.values)
                j = len(env["VM"]) - 1
                code.append(f"    v{i} = {self._getter(src.field)}")
                code.append(f"    if v{i}.__class__ is str: v{i} = VM[{j}].get(v{i}, v{i})")
            elif src.value is not None:
                env["K"].append(src.value)
                code.append(f"    v{i} = K[{len(env['K']) - 1}]")
            elif src.lookup is not None:
                env["L"].append(src.lookup)
                j = len(env["L"]) - 1
                code.append(f"    v{i} = L[{j}].get({self._getter(src.key)})")
                if src.default:
                    code.append(f"    if v{i} is None: v{i} = {self._getter(src.default)}")
            else:
                code.append(f"    v{i} = {self._getter(src.field)}")
        index = {c: i for i, (c, _) in enumerate(columns)}
        for column in self.entity.required:
            i = index[column]
            code.append(
                f"    if v{i} is None or (v{i}.__class__ is str and (not v{i} or v{i}.isspace())): "
                f"raise Rejected(Problem({column!r}, 'missing required field {column}'))"
            )
        for i, (column, kind) in enumerate(columns):
            v, o = f"v{i}", f"o{i}"
            code.append(f"    if {v} is None: {o} = None")
            slow = f"{o} = slow({column!r}, {kind!r}, {v}, FL, TZ, NOTE)"
            if kind == TEXT:
                code.append(
                    f"    elif clean and {v}.__class__ is str: {o} = {v} if {v} and not {v}.isspace() else None"
                )
            elif kind == EMAIL:
                code.append(f"    elif clean and {v}.__class__ is str and EM({v}): {o} = {v}")
            elif kind == TIMESTAMP:
                upper = "HI" if TIMESTAMP_RULE.bounded(column) else repr(TIMESTAMP_RULE.unbounded)
                code.append(f"    elif clean and {v}.__class__ is str and TS({v}) and LO <= {v} <= {upper}: {o} = {v}")
            elif kind == INTEGER:
                code.append(f"    elif clean and {v}.__class__ is str and INT({v}): {o} = {v}")
            elif kind == JSON:
                # Clean JSON text that parses is stored as it is (jsonb normalises it); anything else is re-encoded.
                code.append(f"    elif clean and {v}.__class__ is str and JOK({v}): {o} = {v}")
            code.append(f"    else: {slow}")
        body = code[1:]
        n = len(columns)
        pk = [index[c] for c in self.entity.primary_key]
        key = f"o{pk[0]}" if len(pk) == 1 else "(" + ", ".join(f"o{i}" for i in pk) + ",)"
        plain = ", ".join(f"o{i} if o{i} is not None else N" for i in range(n))
        escaped = ", ".join(f"o{i}.translate(T) if o{i} is not None else N" for i in range(n))
        source = "\n".join(
            [
                "def check(r, clean, loc=None):",
                *body,
                f"    return [{', '.join(f'o{i}' for i in range(n))}]",
                "def row(r, clean, loc=None):",
                *body,
                f"    if clean: return '\\t'.join(({plain},)), {key}, o{index[self.entity.cursor]}",
                f"    return '\\t'.join(({escaped},)), {key}, o{index[self.entity.cursor]}",
            ]
        )
        env.update(N="\\N", T=COPY_ESCAPE)
        exec(_compiled(source), env)  # noqa: S102 - generated from the contract, not from data
        self.row = env["row"]
        return env["check"]

    def __call__(self, record, clean: bool = False, location: str | None = None) -> list[str | None]:
        return self.check(record, clean, location)


@lru_cache(maxsize=256)
def _compiled(source: str):
    """The generated checker's code: the same contract and layout compile once, not once per file."""
    return compile(source, "<leadflow validator>", "exec")


def coerce_record(entity: Entity, record: dict, as_of: datetime, tolerance: timedelta) -> dict:
    """The COPY text values of ``record`` by contract column; raises Rejected with the first problem."""
    values = Validator(entity, as_of, tolerance)(record, clean=False)
    return dict(zip(entity.columns, values, strict=True))
