"""The contract's value rules (pull/rules.py) decide alike on every path they are rendered to: the validator's
compiled fast path and careful path, the Arrow fast path, and SQL (the dbt macro of the e-mail key)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import psycopg
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.pull.contract import ENTITIES
from leadflow.pull.rules import EMAIL_RULE, INTEGER_SHAPE, TIMESTAMP_RULE, Rejected
from leadflow.pull.validate import Validator
from tests.conftest import REPO

from .conftest import AS_OF

BY_KEY = {e.key: e for e in ENTITIES}
FUTURE_LIMIT = AS_OF + timedelta(hours=1)
EMAILS = [
    "jane@acme.com",
    "Jane.Doe+tag@Sub.Acme.CO",
    "  jane@acme.com  ",
    "\tjane@acme.com\n",
    "jane@acme",
    "jane@@acme.com",
    "jane doe@acme.com",
    "jane@-acme.com",
    "jäne@acme.com",
    "jane@acme.com\n",
    "",
    " ",
    "x" * 100 + "@acme.com",
]
TIMESTAMPS = [
    "2026-11-01T10:00:00Z",
    "2000-01-01T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "2026-11-20T13:00:00Z",  # the limit itself
    "2026-11-20T13:00:01Z",
    "2026-11-01 10:00:00",
    "2026-11-01T10:00:00+02:00",
    "2026-11-01",
    "2026-11-01T10:00:00.5Z",
    "2024-0\u0663-01T00:00:00Z",  # an Arabic-Indic digit: a digit to Python's \d, not to RE2's
    "２０２６-11-01T10:00:00Z",
    "yesterday",
]


def _outcome(call):
    try:
        return call()
    except Rejected as err:
        return err.problem


@pytest.mark.parametrize("value", EMAILS)
def test_an_email_the_arrow_path_passes_is_stored_as_the_careful_path_stores_it(value: str) -> None:
    careful = _outcome(lambda: EMAIL_RULE.coerce("email", value))
    if EMAIL_RULE.arrow_valid(pa.array([value])).to_pylist()[0]:
        assert careful == EMAIL_RULE.arrow_stored(pa.array([value])).to_pylist()[0]
    elif careful.__class__ is str:
        # Arrow trims spaces only (the conservative side): other whitespace around an address goes the careful way
        assert value.strip(" ") != value.strip()


@settings(max_examples=300, deadline=None)
@given(core=st.one_of(st.emails(), st.text(max_size=20)), pad=st.integers(0, 3))
def test_email_shape_is_the_same_in_python_and_in_arrow(core: str, pad: int) -> None:
    value = " " * pad + core + " " * pad
    python = EMAIL_RULE.match(value.strip(" ")) is not None
    assert EMAIL_RULE.arrow_valid(pa.array([value])).to_pylist()[0] is python


def test_email_reasons_are_the_products() -> None:
    assert _outcome(lambda: EMAIL_RULE.coerce("email", " jane@acme ")).reason == 'invalid email: "jane@acme"'
    long = "y" * 120
    assert _outcome(lambda: EMAIL_RULE.coerce("email", long)).reason == f'invalid email: "{"y" * 80}"'
    assert EMAIL_RULE.coerce("email", " Jane@Acme.com\t") == "Jane@Acme.com"  # stored as given, trimmed


@pytest.mark.parametrize("value", TIMESTAMPS)
@pytest.mark.parametrize("column", ["occurred_at", "trial_ends_at"])
def test_a_timestamp_both_fast_paths_pass_is_what_the_careful_path_stores(value: str, column: str) -> None:
    upper = TIMESTAMP_RULE.highest(FUTURE_LIMIT) if TIMESTAMP_RULE.bounded(column) else TIMESTAMP_RULE.unbounded
    python_fast = bool(TIMESTAMP_RULE.canonical.match(value)) and TIMESTAMP_RULE.lowest <= value <= upper
    arrow_fast = TIMESTAMP_RULE.arrow_valid(pa.array([value]), upper).to_pylist()[0]
    assert python_fast is arrow_fast
    careful = _outcome(lambda: TIMESTAMP_RULE.coerce(column, value, FUTURE_LIMIT, UTC))
    if python_fast:
        assert careful == value


def test_timestamp_reasons_are_the_products() -> None:
    def reason(value, column="occurred_at"):
        return _outcome(lambda: TIMESTAMP_RULE.coerce(column, value, FUTURE_LIMIT)).reason

    assert reason("1999-12-31T23:59:59Z") == "timestamp before 2000: 1999-12-31T23:59:59Z"
    assert reason("2026-11-20T13:00:01Z") == "timestamp in the future: 2026-11-20T13:00:01Z"
    assert reason("not a time at all, not at all") == 'invalid timestamp: "not a time at all, not at all"'
    assert reason("x" * 60) == f'invalid timestamp: "{"x" * 40}"'
    assert TIMESTAMP_RULE.coerce("trial_ends_at", "2030-01-01T00:00:00Z", FUTURE_LIMIT) == "2030-01-01T00:00:00Z"


def test_a_non_ascii_digit_is_refused_by_the_validators_fast_path_too() -> None:
    """The compiled fast path once took Python's ``\\d`` (any Unicode digit) and stored such a timestamp as it
    came; now it reads the rule's ASCII pattern, as Arrow does, and the careful path quarantines it."""
    validator = Validator(BY_KEY["web.event"], AS_OF)
    record = {"event_id": "E", "event_type": "page_view", "occurred_at": "2024-0\u0663-01T00:00:00Z"}
    fast = _outcome(lambda: validator(record, clean=True))
    assert fast == _outcome(lambda: validator(record, clean=False))
    assert fast.reason == 'invalid timestamp: "2024-0\u0663-01T00:00:00Z"'


@pytest.mark.parametrize("value", ["0", "-12", "123456789012345678", "1234567890123456789", "1.0", "+1", "٣"])
def test_integer_shape_is_the_same_in_python_and_in_arrow(value: str) -> None:
    assert INTEGER_SHAPE.arrow(pa.array([value])).to_pylist()[0] is (INTEGER_SHAPE.match(value) is not None)


def test_every_model_writes_the_email_key_with_the_macro() -> None:
    by_hand = re.compile(r"lower\(\s*trim\(\s*[\w.]*email\s*\)\s*\)", re.I)
    models = sorted((REPO / "dbt_project" / "models").rglob("*.sql"))
    assert [p.name for p in models if by_hand.search(p.read_text())] == []
    users = [p.name for p in models if "normalize_email(" in p.read_text()]
    assert len(users) >= 9, users
    assert EMAIL_RULE.sql_key("r.email", REPO / "dbt_project") == "lower(trim(r.email))"


def test_the_email_key_is_the_same_in_python_and_in_postgresql(warehouse: str) -> None:
    """``key`` (Python, the fast lane's candidates) and the macro (SQL, staging and the fast lane's lookups on
    raw) over what raw stores: the validator's stored form of each address."""
    stored = [EMAIL_RULE.coerce("email", v) for v in [*EMAILS, "O'Brien@ACME.com"] if _ok(v)]
    assert len(stored) >= 4
    expression = EMAIL_RULE.sql_key("v.email", REPO / "dbt_project")
    with psycopg.connect(warehouse) as conn:
        sql = [
            row[0]
            for row in conn.execute(
                f"select {expression} from unnest(%s::text[]) with ordinality as v(email, n) order by n", (stored,)
            )
        ]
    assert sql == [EMAIL_RULE.key(v) for v in stored]
    assert EMAIL_RULE.key("  ") is None and EMAIL_RULE.key(None) is None


def _ok(value: str) -> bool:
    try:
        EMAIL_RULE.coerce("email", value)
    except Rejected:
        return False
    return True


def test_the_arrow_bounds_are_the_validators() -> None:
    as_of = datetime(2026, 11, 20, 12, 0, 0, 500_000, tzinfo=UTC)
    validator = Validator(BY_KEY["web.event"], as_of)
    assert TIMESTAMP_RULE.highest(validator.future_limit) == "2026-11-20T13:00:00Z"
    assert TIMESTAMP_RULE.lowest == "2000-01-01T00:00:00Z"
