"""Hostile landing files: nothing crashes the source's pull, nothing vanishes, every bad record says why."""

from __future__ import annotations

import json

import psycopg
import pytest

from .test_bad_input_corpus import HEADER, WEB
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


def test_headers_named_like_postgresql_system_columns_are_kept_under_another_name(env) -> None:
    env.configure(FILES)
    env.write(MARKETING, HEADER.replace("\n", ",xmin,CTID,tableoid\n") + row(1).replace("\n", ",7,(0;1),t\n"))
    env.jsonl("web/events_01.jsonl", [{**WEB, "xmax": "x1", "cmin": 3}])
    assert env.pull("marketing")["marketing.engagement"]["loaded"] == 1
    assert env.pull("web")["web.event"]["loaded"] == 1
    assert env.rows("select src_xmin, src_ctid, src_tableoid from raw.marketing_engagements") == [("7", "(0;1)", "t")]
    assert env.rows("select src_xmax, src_cmin from raw.web_events") == [("x1", "3")]
    assert env.rows("select source, record_key, flag from ops.record_flags order by 1, 3") == [
        ("marketing", "M1", "renamed_field:src_ctid"),
        ("marketing", "M1", "renamed_field:src_tableoid"),
        ("marketing", "M1", "renamed_field:src_xmin"),
        ("web", "E1", "renamed_field:src_cmin"),
        ("web", "E1", "renamed_field:src_xmax"),
    ]


def test_a_header_repeated_in_another_case_keeps_its_values_and_is_flagged(env) -> None:
    env.configure(FILES)
    header = HEADER.replace("\n", ",Email,EMAIL\n")
    env.write(MARKETING, header + row(1).replace("\n", ",other1@acme.com,\n") + row(2).replace("\n", ",,x\n"))
    env.jsonl("web/events_01.jsonl", [{**WEB, "Email": "second@acme.com"}])
    assert env.pull("marketing")["marketing.engagement"]["loaded"] == 2
    assert env.pull("web")["web.event"]["loaded"] == 1
    assert env.rows("select engagement_id, email, email_2, email_3 from raw.marketing_engagements order by 1") == [
        ("M1", "p1@acme.com", "other1@acme.com", None),
        ("M2", "p2@acme.com", None, "x"),
    ]
    assert env.rows("select email, email_2 from raw.web_events") == [("jane@acme.com", "second@acme.com")]
    assert env.rows("select source, record_key, flag, location from ops.record_flags order by 1, 2, 3") == [
        ("marketing", "M1", "duplicate_header:email_2", f"{MARKETING}:2"),
        ("marketing", "M2", "duplicate_header:email_3", f"{MARKETING}:3"),
        ("web", "E1", "duplicate_header:email_2", "web/events_01.jsonl:1"),
    ]


def test_when_a_source_crashes_its_other_failures_are_still_reported(env) -> None:
    """One unit crashes the pull (the raw table refuses a row); the file that lacked a column is named too."""
    env.configure(FILES)
    env.write(MARKETING, engagements(range(3)))
    env.pull("marketing")
    with psycopg.connect(env.url, autocommit=True) as conn:  # someone constrained raw by hand
        conn.execute("alter table raw.marketing_engagements add constraint no_boom check (asset_name <> 'BOOM')")
    env.write("marketing/engagements_b.csv", "engagement_id,channel,action,asset_name,occurred_at\nM9,email,x,y,z\n")
    env.write("marketing/engagements_c.csv", HEADER + row(20, "BOOM"))
    with pytest.raises(Exception) as err:
        env.pull("marketing", "run-2")
    message = str(err.value)
    assert "no_boom" in message  # the crash
    assert "engagements_b.csv lacks required column(s) email" in message  # and what else failed


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_truncated_last_line_waits_while_the_file_is_young_then_loads_with_the_line_quarantined(
    env, monkeypatch, kind
) -> None:
    import json
    import os
    import time

    from leadflow.pull.readers import SourceError

    monkeypatch.setenv("LEADFLOW_PULL_TRUNCATED_GRACE_MINUTES", "30")
    env.configure(FILES)
    if kind == "csv":
        rel, source, table = MARKETING, "marketing", "raw.marketing_engagements"
        path = env.write(rel, HEADER + row(1) + row(2) + "M3,p3@acme.com,ema")
        reason = "malformed CSV row: expected 6 fields, got 3 (truncated last line: no newline at the end)"
    else:
        rel, source, table = "web/events_01.jsonl", "web", "raw.web_events"
        lines = [json.dumps({**WEB, "event_id": f"E{i}"}) for i in (1, 2)]
        path = env.write(rel, "\n".join(lines) + '\n{"event_id": "E3", "anonym')
        reason = "truncated last line: no newline at the end and the line does not parse"
    # young: it may still be being written; the whole file waits for the retry (nothing half-loaded)
    with pytest.raises(SourceError, match="truncated"):
        env.pull(source)
    assert env.one(f"select count(*) from {table}") == 0
    # unchanged for longer than the grace: the good rows load, the partial line is quarantined
    old = time.time() - 31 * 60
    os.utime(path, (old, old))
    summary = env.pull(source, "run-2")[f"{source}.{'engagement' if kind == 'csv' else 'event'}"]
    assert (summary["read"], summary["loaded"], summary["quarantined"]) == (3, 2, 1)
    assert env.quarantine() == [(f"{rel}:{4 if kind == 'csv' else 3}", None, reason)]
    assert env.one(f"select count(*) from {table}") == 2


def test_naive_timestamps_take_the_source_time_zone_and_are_flagged_as_are_nested_values_in_text(env) -> None:
    config = {**FILES, "web": {**FILES["web"], "timezone": "America/New_York"}}
    env.configure(config)
    env.jsonl("web/events_01.jsonl", [
        {**WEB, "event_id": "E1", "occurred_at": "2026-11-19T10:00:00"},  # naive: New York time, as declared
        {**WEB, "event_id": "E2", "occurred_at": "2026-11-19T10:00:00Z"},  # says UTC
        {**WEB, "event_id": "E3", "page_path": {"path": "/pricing"}, "referrer": ["a", "b"]},
    ])  # fmt: skip
    env.write(MARKETING, HEADER + row(1).replace("10:00:00Z", "10:00:00"))  # no zone declared: UTC, flagged
    assert env.pull("web")["web.event"]["loaded"] == 3
    assert env.pull("marketing")["marketing.engagement"]["loaded"] == 1
    assert env.rows("select event_id, occurred_at::text, page_path, referrer from raw.web_events order by 1") == [
        ("E1", "2026-11-19 15:00:00+00", "/pricing", None),
        ("E2", "2026-11-19 10:00:00+00", "/pricing", None),
        ("E3", "2026-11-19 10:00:00+00", '{"path":"/pricing"}', '["a","b"]'),
    ]
    assert env.rows("select occurred_at::text from raw.marketing_engagements") == [("2026-11-19 10:00:00+00",)]
    assert env.rows("select source, record_key, flag, location from ops.record_flags order by 1, 2, 3") == [
        ("marketing", "M1", "naive_timestamp:occurred_at", f"{MARKETING}:2"),
        ("web", "E3", "nested_value:page_path", "web/events_01.jsonl:3"),
        ("web", "E3", "nested_value:referrer", "web/events_01.jsonl:3"),
    ]


def test_an_unknown_time_zone_fails_the_source_naming_it(env) -> None:
    from leadflow.pull.readers import SourceError

    env.configure({**FILES, "web": {**FILES["web"], "timezone": "Mars/Olympus"}})
    env.jsonl("web/events_01.jsonl", [WEB])
    with pytest.raises(SourceError, match="Mars/Olympus"):
        env.pull("web")


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_quarantine_keeps_the_exact_bytes_of_input_that_is_not_utf8(env, kind) -> None:
    env.configure(FILES)
    if kind == "csv":
        bad = b'M2,p2@acme.com,email,email_open,"Caf\xe9\r\nau lait\x00",2026-11-19T10:00:00Z'
        env.write(MARKETING, HEADER.encode() + row(1).encode() + bad + b"\n" + row(3).encode())
        source, location = "marketing", f"{MARKETING}:4"  # a record is located by its last line
    else:
        bad = b'{"event_id": "E2", "page_path": "/caf\xe9", "bad": "\xff\xfe"}'
        env.write("web/events_01.jsonl", json.dumps(WEB).encode() + b"\n" + bad + b"\n")
        source, location = "web", "web/events_01.jsonl:2"
    env.pull(source)
    [(where, payload, exact)] = env.rows("select location, payload, payload_bytes from ops.quarantine")
    assert where == location and "\ufffd" in payload  # readable text for people,
    assert bytes(exact) == bad  # and the bytes as they arrived, to recover the record


def test_a_payload_cut_for_display_is_kept_whole_as_bytes(env) -> None:
    env.configure(FILES)
    env.write(MARKETING, HEADER + row(1) + row(2, "z" * 150_000))
    env.pull("marketing")
    [(payload, exact)] = env.rows("select payload, payload_bytes from ops.quarantine")
    assert len(payload) == 100_000 and len(bytes(exact)) > 150_000
    assert bytes(exact).decode() == row(2, "z" * 150_000).rstrip("\n")


def test_parquet_columns_repeated_in_another_case_or_named_like_system_columns_are_kept(env) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    env.configure(FILES)
    (env.landing / "web").mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "event_id": ["E1"], "event_type": ["page_view"], "email": ["jane@acme.com"], "Email": ["other@acme.com"],
        "xmin": ["5"], "occurred_at": [dt.datetime(2026, 11, 19, 10)],  # a naive Parquet timestamp
    })  # fmt: skip
    pq.write_table(table, env.landing / "web" / "events_01.parquet")
    assert env.pull("web")["web.event"]["loaded"] == 1
    assert env.rows("select email, email_2, src_xmin, occurred_at::text from raw.web_events") == [
        ("jane@acme.com", "other@acme.com", "5", "2026-11-19 10:00:00+00")
    ]
    assert [r[0] for r in env.rows("select flag from ops.record_flags order by 1")] == [
        "duplicate_header:email_2", "naive_timestamp:occurred_at", "renamed_field:src_xmin"
    ]  # fmt: skip
