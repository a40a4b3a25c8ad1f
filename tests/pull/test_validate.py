from datetime import UTC, datetime, timedelta

import pytest

from leadflow.pull.contract import BY_KEY
from leadflow.pull.validate import Rejected, coerce_record

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
LEAD = {
    "lead_id": "L1",
    "email": " Jane.Doe@Acme.com ",
    "created_at": "2026-11-01T10:00:00Z",
    "updated_at": "2026-11-02T10:00:00Z",
}


def reason(entity: str, record: dict) -> tuple[str | None, str]:
    with pytest.raises(Rejected) as err:
        coerce_record(BY_KEY[entity], record, AS_OF, timedelta(hours=1))
    return err.value.problem.field, err.value.problem.reason


def test_clean_record_is_typed() -> None:
    row = coerce_record(BY_KEY["crm.lead"], LEAD, AS_OF, timedelta(hours=1))
    assert row["email"] == "Jane.Doe@Acme.com"  # normalising case is staging's job; whitespace is trimmed
    assert row["created_at"] == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert row["title"] is None


@pytest.mark.parametrize(
    ("entity", "change", "field", "starts"),
    [
        ("crm.lead", {"lead_id": ""}, "lead_id", "missing required field lead_id"),
        ("crm.lead", {"email": "jane.doe@"}, "email", "invalid email"),
        ("crm.lead", {"email": "not-an-email"}, "email", "invalid email"),
        ("crm.lead", {"created_at": "yesterday"}, "created_at", "invalid timestamp"),
        ("crm.lead", {"updated_at": "2026-11-25T00:00:00Z"}, "updated_at", "timestamp in the future"),
        ("crm.lead", {"created_at": "1999-12-31T23:59:59Z"}, "created_at", "timestamp before 2000"),
        ("crm.lead", {"title": "VP\x00Sales"}, "title", "control characters"),
        ("crm.lead", {"company_name": "x" * 10_001}, "company_name", "oversize field"),
        (
            "crm.account",
            {"account_id": "A", "updated_at": "2026-11-01T00:00:00Z", "employee_count": "12 seats"},
            "employee_count",
            "not an integer",
        ),
        (
            "crm.account",
            {"account_id": "A", "updated_at": "2026-11-01T00:00:00Z", "annual_revenue": "lots"},
            "annual_revenue",
            "not a number",
        ),
        (
            "crm.account",
            {"account_id": "A", "updated_at": "2026-11-01T00:00:00Z", "is_customer": "maybe"},
            "is_customer",
            "not a boolean",
        ),
        (
            "product.event",
            {
                "event_id": "E",
                "user_id": "U",
                "event_name": "x",
                "occurred_at": "2026-11-01T00:00:00Z",
                "properties": "{oops",
            },
            "properties",
            "invalid JSON",
        ),
    ],
)
def test_each_bad_field_is_named(entity: str, change: dict, field: str, starts: str) -> None:
    record = {**LEAD, **change} if entity == "crm.lead" else change
    got_field, got_reason = reason(entity, record)
    assert got_field == field
    assert got_reason.startswith(starts)


def test_planned_dates_may_be_in_the_future() -> None:
    row = coerce_record(
        BY_KEY["product.workspace"],
        {"workspace_id": "W", "updated_at": "2026-11-01T00:00:00Z", "trial_ends_at": "2026-12-15T00:00:00Z"},
        AS_OF,
        timedelta(hours=1),
    )
    assert row["trial_ends_at"].month == 12
