"""The contract's value rules, each defined once and rendered for every path that applies it.

A rule holds its pattern, bounds and reasons; the per-record validator (``pull/validate.py``: its compiled
fast path and its careful path), the Arrow fast path (``pull/fast.py``) and SQL take their checks from it,
so the paths cannot drift apart:

* ``EMAIL_RULE``: one @, a dotted domain, no spaces; stored without surrounding whitespace. Its identity
  key (lower case) is the dbt macro ``normalize_email`` (dbt_project/macros/normalize_email.sql) in SQL,
  rendered from that file for Python's SQL too (``sql_key``), and ``key`` in Python.
* ``TIMESTAMP_RULE``: ISO 8601; stored as UTC ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``, between 2000 and the run's
  as-of plus the clock tolerance (except the columns that hold planned dates).
* ``INTEGER_SHAPE``: the integer text both fast paths store as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    field: str | None
    reason: str


class Rejected(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.reason)
        self.problem = problem


def reject(column: str, reason: str):
    raise Rejected(Problem(column, reason))


def quote(value, limit: int = 40) -> str:
    """A value as it appears in a reason: a JSON string, cut at ``limit`` characters."""
    return json.dumps(str(value)[:limit], ensure_ascii=False)


def iso_z(moment: datetime) -> str:
    """UTC ISO 8601 with a Z, whole seconds unless the value has a fraction."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ")


class Pattern:
    """One regular expression (ASCII classes only, so Python's ``re`` and Arrow's RE2 read it alike), as a
    Python whole-string test (``match``) and as an Arrow kernel over a text array (``arrow``)."""

    def __init__(self, body: str):
        self.body = body
        self.match: Callable[[str], re.Match | None] = re.compile(body).fullmatch
        self.anchored = f"^(?:{body})$"

    def arrow(self, values):
        import pyarrow.compute as pc

        return pc.match_substring_regex(values, self.anchored)


INTEGER_SHAPE = Pattern(r"-?[0-9]{1,18}")


class EmailRule:
    """An e-mail address as outreach tools take it (pragmatic, not RFC 5322)."""

    def __init__(self, body: str, quote_limit: int = 80, macro: str = "normalize_email"):
        self.shape = Pattern(body)
        self.match = self.shape.match
        self.quote_limit = quote_limit
        self.macro = macro

    # -- Python ---------------------------------------------------------------------------------------
    @staticmethod
    def stored(text: str) -> str:
        """How an address is stored in raw: without surrounding whitespace."""
        return text.strip()

    def reason(self, text: str) -> str:
        return f"invalid email: {quote(text, self.quote_limit)}"

    def coerce(self, column: str, text: str) -> str:
        """The stored address, or Rejected with the reason."""
        text = self.stored(text)
        if not self.match(text):
            reject(column, self.reason(text))
        return text

    def key(self, value) -> str | None:
        """The identity key of an address (or of any text that names one): stored form, lower case; None when
        blank. In SQL the same rule is ``sql_key`` (the dbt macro), over raw's already stored values."""
        text = self.stored(str(value)).lower() if value is not None else ""
        return text or None

    # -- Arrow ----------------------------------------------------------------------------------------
    @staticmethod
    def arrow_stored(values):
        """``stored`` over a text array. Only ASCII spaces are trimmed: when what is left has the address's
        shape, it starts and ends with characters that are not whitespace, so ``str.strip()`` gives the same;
        anything else fails ``arrow_valid`` and goes the careful way."""
        import pyarrow.compute as pc

        return pc.utf8_trim(values, " ")

    def arrow_valid(self, values):
        """Per value: the stored address has the shape (the Arrow form of ``coerce`` passing)."""
        return self.shape.arrow(self.arrow_stored(values))

    # -- SQL ------------------------------------------------------------------------------------------
    def sql_key(self, column: str, dbt_dir: Path | None = None) -> str:
        """``key`` as a SQL expression over ``column``: the dbt macro every model uses, rendered from its file."""
        if dbt_dir is None:
            from leadflow.settings import get_settings

            dbt_dir = get_settings().dbt_dir
        return str(_dbt_macro(str(dbt_dir / "macros" / f"{self.macro}.sql"), self.macro)(column)).strip()


@lru_cache(maxsize=8)
def _dbt_macro(path: str, name: str) -> Callable[..., str]:
    """A macro of the dbt project as a Python function (plain Jinja: for macros that call no dbt function)."""
    import jinja2

    return getattr(jinja2.Environment(autoescape=False).from_string(Path(path).read_text()).module, name)  # noqa: S701


# The time zone of a source that declares none: UTC, and every timestamp without an offset is flagged.
UNDECLARED_UTC = timezone(timedelta(0), "UTC (undeclared)")


class TimestampRule:
    """An observation's moment: ISO 8601, not before ``earliest``, not after the run's as-of plus the clock
    tolerance (``future_limit``) unless the column holds planned dates (``future_allowed``)."""

    def __init__(self, earliest: datetime, future_allowed: frozenset[str]):
        self.earliest = earliest
        self.future_allowed = future_allowed
        # The stored form the fast paths pass as it is, and its bounds as text (that form sorts as time does).
        self.canonical = Pattern(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
        self.lowest = iso_z(earliest)
        self.unbounded = "9999"

    def bounded(self, column: str) -> bool:
        return column not in self.future_allowed

    def highest(self, future_limit: datetime) -> str:
        """The latest canonical text a bounded column takes (the limit's whole second)."""
        return iso_z(future_limit)[:19] + "Z"

    def arrow_valid(self, values, highest: str):
        """Per value: canonical and within [lowest, highest] (``highest``: ``highest()`` or ``unbounded``)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        # (scalars, not Python strings: a str operand makes these kernels about 500 times slower)
        return pc.and_kleene(
            self.canonical.arrow(values),
            pc.and_kleene(pc.greater_equal(values, pa.scalar(self.lowest)), pc.less_equal(values, pa.scalar(highest))),
        )

    def coerce(
        self, column: str, value, future_limit: datetime, tz: tzinfo | None = None, note: Callable | None = None
    ) -> str:
        """The stored text of any timestamp-like value, or Rejected with the reason. ``tz``: the source's zone for
        values without an offset; ``note`` is told ``naive_timestamp:<column>`` when that zone is a guess."""
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, date):
            parsed = datetime(value.year, value.month, value.day)
        elif isinstance(value, str):
            text = value.strip()
            try:
                parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if len(text) > 10 else text)
            except ValueError:
                reject(column, f"invalid timestamp: {quote(text)}")
        else:
            reject(column, f"invalid timestamp: {quote(value)}")
        if parsed.tzinfo is None:  # no offset: the source's time zone (setting ``timezone``), else UTC
            tz = tz or UNDECLARED_UTC
            parsed = parsed.replace(tzinfo=tz)
            # flagged when the source declared no zone (UTC is a guess), unless it is a date (no clock time)
            if tz is UNDECLARED_UTC and note is not None and not (isinstance(value, str) and len(value.strip()) <= 10):
                note(f"naive_timestamp:{column}")
        if parsed < self.earliest:
            reject(column, f"timestamp before {self.earliest.year}: {iso_z(parsed)}")
        if self.bounded(column) and parsed > future_limit:
            reject(column, f"timestamp in the future: {iso_z(parsed)}")
        return iso_z(parsed)


EMAIL_RULE = EmailRule(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")
# Observations before 2000 are clock errors; plans and expiries may lie in the future.
TIMESTAMP_RULE = TimestampRule(datetime(2000, 1, 1, tzinfo=UTC), frozenset({"trial_ends_at", "closed_at"}))
