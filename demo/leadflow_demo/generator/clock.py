"""Time in the generator: whole epoch seconds, the 120-day window before as-of, the 48 h hot window, and
ISO 8601 / day / week strings made from tables (strftime would be the hot path's bottleneck).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MINUTE = 60


HOUR = 3600


DAY = 86400


WINDOW_DAYS = 120  # all clean activity happens in the WINDOW_DAYS before as_of


HOT_WINDOW = 48 * HOUR  # "conversion-qualified (hot)": bottom-of-funnel action in the last 48 h


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_DAY_CACHE: dict[int, str] = {}


def _day(sec: int) -> str:
    d = sec // DAY
    s = _DAY_CACHE.get(d)
    if s is None:
        s = _DAY_CACHE[d] = (_EPOCH + timedelta(days=d)).strftime("%Y-%m-%d")
    return s


_TIME_OF_DAY = [f"T{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}Z" for s in range(DAY)]


def iso(sec: int) -> str:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SSZ`` (table-built: strftime would be the hot path's bottleneck)."""
    return _day(sec) + _TIME_OF_DAY[sec % DAY]


def _week(sec: int) -> str:
    """Monday of the week holding ``sec``, for weekly marketing export file names."""
    d = sec // DAY
    return _day((d - (d + 3) % 7) * DAY)  # 1970-01-01 was a Thursday


def _as_of_seconds(as_of: datetime | None) -> int:
    if as_of is None:
        as_of = datetime.now(UTC).replace(second=0, microsecond=0)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)  # a naive "present" is taken as UTC
    return int(as_of.astimezone(UTC).timestamp())
