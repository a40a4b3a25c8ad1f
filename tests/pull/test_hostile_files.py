"""Hostile landing files: nothing crashes the source's pull, nothing vanishes, every bad record says why."""

from __future__ import annotations

import pytest

from .test_bad_input_corpus import HEADER
from .test_files import FILES, engagements

MARKETING = "marketing/engagements_a.csv"


def row(i: int, asset: str = "Newsletter") -> str:
    return f"M{i},p{i}@acme.com,email,email_open,{asset},2026-11-19T10:00:00Z\n"


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
def test_a_field_over_the_csv_module_limit_is_quarantined_not_a_crash(env, quoted) -> None:
    """131,073+ characters in one field: the record is quarantined by the oversize rule, the rest loads."""
    env.configure(FILES)
    huge = "x" * 200_000
    env.write(MARKETING, HEADER + row(1) + row(2, f'"{huge}"' if quoted else huge) + row(3))
    env.write("marketing/engagements_b.csv", engagements(range(10, 15)))
    summary = env.pull("marketing")["marketing.engagement"]
    assert (summary["read"], summary["loaded"], summary["quarantined"]) == (8, 7, 1)
    assert env.quarantine() == [(f"{MARKETING}:3", "asset_name", "oversize field: 200000 characters (limit 10000)")]
    assert env.one("select count(*) from raw.marketing_engagements") == 7
    assert env.one("select payload from ops.quarantine").startswith("M2,p2@acme.com,email,email_open,xxx")


def test_a_field_over_the_raised_limit_is_quarantined_as_a_csv_error_and_the_file_goes_on(env, monkeypatch) -> None:
    import csv

    monkeypatch.setattr(csv, "field_size_limit", csv.field_size_limit)  # restored afterwards
    old = csv.field_size_limit(50_000)  # stands for a field over the 64 MiB limit, without 64 MiB of test data
    try:
        env.configure(FILES)
        env.write(MARKETING, HEADER + row(1) + row(2, "y" * 60_000) + row(3))
        summary = env.pull("marketing")["marketing.engagement"]
    finally:
        csv.field_size_limit(old)
    assert (summary["read"], summary["loaded"], summary["quarantined"]) == (3, 2, 1)
    [(location, field, reason)] = env.quarantine()
    assert (location, field) == (f"{MARKETING}:3", None) and reason.startswith("unparseable CSV record: field larger")
