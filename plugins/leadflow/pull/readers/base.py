"""What every reader shares: the faults that fail a unit, and what makes input "clean".

``clean`` is decided for a whole block of input at once (no backslash, control character or overlong
line in it) and lets the validator take its fast path; see ``pull/validate.py``.
"""

from __future__ import annotations

import re

from leadflow.pull.validate import MAX_FIELD_CHARS

# A text that holds none of these is "clean": no escapes, control characters or backslashes.
DIRTY_TEXT = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\\]").search


class SourceError(RuntimeError):
    """A fault that fails one unit of a source (the task fails, its retry completes it); names source, location, field."""


class TruncatedFile(SourceError):
    """The file's last line has no newline and does not parse; the reader has quarantined that line already.

    While the file is young (it may still be being written) the unit fails and is retried; once it has been
    unchanged for the grace period it loads, the partial line in quarantine (see ``FileJob`` in pull/run.py).
    """


def row_clean(row) -> bool:
    texts = [v for v in row if v.__class__ is str]
    joined = "|".join(texts)
    # DIRTY_TEXT lets a line feed through (it ends CSV lines): a value holding one is not clean.
    return len(joined) <= MAX_FIELD_CHARS and "\n" not in joined and DIRTY_TEXT(joined) is None


def rows_clean(rows: list) -> bool:
    """Whether every string in these rows keeps the fast path's promise (checked in one pass)."""
    texts = [v for row in rows for v in row if v.__class__ is str]
    if not texts:
        return True
    joined = "\n".join(texts)
    return (
        joined.count("\n") == len(texts) - 1  # no value holds a line break
        and max(map(len, texts)) <= MAX_FIELD_CHARS
        and DIRTY_TEXT(joined) is None
    )
