"""The validator alone: typed output, the fast path agrees with the careful one, mappings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.pull.contract import BY_KEY
from leadflow.pull.validate import Rejected, Source, Validator, coerce_record

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
LEAD = {
    "lead_id": "L1",
    "email": " Jane.Doe@Acme.com ",
    "created_at": "2026-11-01T10:00:00Z",
    "updated_at": "2026-11-02 10:00:00+01:00",
}


def test_clean_record_is_rendered_for_copy() -> None:
    row = coerce_record(BY_KEY["crm.lead"], LEAD, AS_OF, timedelta(hours=1))
    assert row["email"] == "Jane.Doe@Acme.com"  # normalising case is staging's job; whitespace is trimmed
    assert row["created_at"] == "2026-11-01T10:00:00Z"
    assert row["updated_at"] == "2026-11-02T09:00:00Z"  # offsets are normalised to UTC
    assert row["title"] is None


def test_typed_values_from_a_database_or_parquet() -> None:
    validator = Validator(BY_KEY["product.workspace"], AS_OF, fields=["workspace_id", "seats", "plan", "updated_at"])
    values = validator(("W1", 12, "trial", datetime(2026, 11, 1, 8, 30)))
    assert values == ["W1", "12", "trial", None, "2026-11-01T08:30:00Z"]


def test_planned_dates_may_be_in_the_future() -> None:
    row = coerce_record(
        BY_KEY["product.workspace"],
        {"workspace_id": "W", "updated_at": "2026-11-01T00:00:00Z", "trial_ends_at": "2026-12-15T00:00:00Z"},
        AS_OF,
        timedelta(hours=1),
    )
    assert row["trial_ends_at"] == "2026-12-15T00:00:00Z"


def test_mapping_renames_sets_constants_and_looks_up() -> None:
    first_contact = {"m1": datetime(2018, 1, 2, tzinfo=UTC)}
    mapping = {
        "opportunity_id": Source(field="mql_id"),
        "lead_id": Source(field="mql_id"),
        "is_won": Source(value="true"),
        "created_at": Source(lookup=first_contact, key="mql_id", default="won_date"),
        "closed_at": Source(field="won_date"),
        "updated_at": Source(field="won_date"),
    }
    fields = ["mql_id", "won_date", "seller_id"]
    validator = Validator(BY_KEY["crm.opportunity"], AS_OF, fields=fields, mapping=mapping)
    assert validator.missing_fields() == []
    known = dict(zip(BY_KEY["crm.opportunity"].columns, validator(("m1", "2018-02-01 10:00:00", "s1")), strict=True))
    assert (known["opportunity_id"], known["lead_id"], known["is_won"]) == ("m1", "m1", "true")
    assert known["created_at"] == "2018-01-02T00:00:00Z"
    unknown = dict(zip(BY_KEY["crm.opportunity"].columns, validator(("m9", "2018-02-01 10:00:00", "s1")), strict=True))
    assert unknown["created_at"] == "2018-02-01T10:00:00Z"  # no MQL: the default field


def test_missing_fields_of_a_positional_layout() -> None:
    validator = Validator(BY_KEY["marketing.engagement"], AS_OF, fields=["engagement_id", "channel", "occurred_at"])
    assert validator.missing_fields() == ["email", "action"]


def outcome(validator: Validator, record: dict, clean: bool):
    try:
        return validator(record, clean)
    except Rejected as err:
        return (err.problem.field, err.problem.reason)


# Strings that keep the readers' "clean" promise: no control characters, backslashes, tabs or newlines.
clean_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\\x7f"), max_size=30
)
timestamps = st.one_of(
    clean_text,
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    email=st.one_of(clean_text, st.emails()),
    occurred=timestamps,
    count=st.one_of(clean_text, st.integers(-(10**20), 10**20).map(str)),
)
def test_fast_path_agrees_with_the_careful_path(email: str, occurred: str, count: str) -> None:
    validator = Validator(BY_KEY["conversations.conversation"], AS_OF)
    record = {
        "conversation_id": "C1",
        "email": email,
        "started_at": occurred,
        "updated_at": "2026-11-01T00:00:00Z",
        "visitor_message_count": count,
    }
    assert outcome(validator, record, clean=True) == outcome(validator, record, clean=False)


@pytest.mark.parametrize("value", ["2026-11-20T13:00:00Z", "2026-11-20T13:00:01Z"])
def test_the_future_limit_is_the_same_on_both_paths(value: str) -> None:
    validator = Validator(BY_KEY["web.event"], AS_OF)
    record = {"event_id": "E", "event_type": "page_view", "occurred_at": value}
    assert outcome(validator, record, True) == outcome(validator, record, False)
