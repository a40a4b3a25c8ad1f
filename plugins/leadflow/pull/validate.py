"""Coerce one source record to its raw-contract types, or say exactly why it cannot be loaded."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from leadflow.pull.contract import BOOLEAN, EMAIL, INTEGER, JSON, NUMERIC, TEXT, TIMESTAMP, Entity

# Pragmatic, not RFC 5322: one @, a dotted domain, no spaces. What outreach tools accept.
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_FIELD_CHARS = 10_000
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# Columns that legitimately hold future dates (plans, expiries); every other timestamp is an observation.
FUTURE_ALLOWED = {"trial_ends_at", "closed_at"}
TRUE = {"true", "t", "1", "yes", "y"}
FALSE = {"false", "f", "0", "no", "n"}


@dataclass(frozen=True)
class Problem:
    field: str | None
    reason: str


class Rejected(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.reason)
        self.problem = problem


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def coerce_value(column: str, kind: str, value, future_limit: datetime):
    """One field to its contract type; raises Rejected naming the field."""
    if _blank(value):
        return None
    if isinstance(value, str):
        if len(value) > MAX_FIELD_CHARS:
            raise Rejected(Problem(column, f"oversize field: {len(value)} characters (limit {MAX_FIELD_CHARS})"))
        if CONTROL_RE.search(value):
            raise Rejected(Problem(column, "control characters in field"))
    if kind == TEXT:
        return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)
    if kind == EMAIL:
        text = str(value).strip()
        if not EMAIL_RE.match(text):
            raise Rejected(Problem(column, f"invalid email: {text[:80]!r}"))
        return text
    if kind == TIMESTAMP:
        return _timestamp(column, value, future_limit)
    if kind == INTEGER:
        try:
            if isinstance(value, bool):
                raise ValueError
            number = Decimal(str(value).strip())
            if number != number.to_integral_value():
                raise ValueError
            return int(number)
        except (InvalidOperation, ValueError):
            raise Rejected(Problem(column, f"not an integer: {str(value)[:40]!r}")) from None
    if kind == NUMERIC:
        try:
            number = Decimal(str(value).strip())
            if not number.is_finite():
                raise InvalidOperation
            return number
        except InvalidOperation:
            raise Rejected(Problem(column, f"not a number: {str(value)[:40]!r}")) from None
    if kind == BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise Rejected(Problem(column, f"not a boolean: {str(value)[:40]!r}"))
    if kind == JSON:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise Rejected(Problem(column, "invalid JSON in field")) from None
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    raise AssertionError(f"unknown contract type {kind}")


def _timestamp(column: str, value, future_limit: datetime) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if len(text) > 10 else text)
        except ValueError:
            raise Rejected(Problem(column, f"invalid timestamp: {text[:40]!r}")) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # sources without an offset are documented as UTC
    if parsed < EARLIEST:
        raise Rejected(Problem(column, f"timestamp before 2000: {parsed.isoformat()}"))
    if column not in FUTURE_ALLOWED and parsed > future_limit:
        raise Rejected(Problem(column, f"timestamp in the future: {parsed.isoformat()}"))
    return parsed


def coerce_record(entity: Entity, record: dict, as_of: datetime, tolerance: timedelta) -> dict:
    """The typed row for ``record`` (contract columns only); raises Rejected with the first problem."""
    future_limit = as_of + tolerance
    row = {}
    for column in entity.required:
        if _blank(record.get(column)):
            raise Rejected(Problem(column, f"missing required field {column}"))
    for column, kind in entity.columns.items():
        row[column] = coerce_value(column, kind, record.get(column), future_limit)
    return row
