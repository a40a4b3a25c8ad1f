"""Landing-zone files: CSV, JSONL and Parquet, local and on an S3-compatible server; drift and faults."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadflow.pull.readers import SourceError

from .test_bad_input_corpus import HEADER, WEB

FILES = {
    "web": {"kind": "files", "entities": {"event": {"pattern": "web/*"}}},
    "marketing": {"kind": "files", "format": "csv", "entities": {"engagement": {"pattern": "marketing/*.csv"}}},
    "quiz": {"kind": "files", "format": "csv", "entities": {"response": {"pattern": "quiz/*.csv"}}},
}


def events(day: int, n: int, start: int = 0) -> list[dict]:
    return [
        {**WEB, "event_id": f"E{day}-{i}", "occurred_at": f"2026-11-{day:02d}T10:{i % 60:02d}:00Z"}
        for i in range(start, start + n)
    ]


def engagements(ids: range) -> str:
    return HEADER + "".join(f"M{i},p{i}@acme.com,email,email_open,Newsletter,2026-11-19T10:00:00Z\n" for i in ids)


def test_jsonl_csv_and_parquet_load_and_a_file_is_read_once(env) -> None:
    env.configure(FILES)
    env.jsonl("web/events_01.jsonl", events(1, 30))
    table = pa.Table.from_pylist(
        [{**e, "occurred_at": datetime.fromisoformat(e["occurred_at"])} for e in events(2, 20)]
    )
    pq.write_table(table, env.landing / "web" / "events_02.parquet")
    env.write("marketing/engagements_a.csv", engagements(range(10)))
    assert env.pull("web")["web.event"]["loaded"] == 50
    assert env.pull("marketing")["marketing.engagement"]["loaded"] == 10
    assert (
        env.one("select count(*) from raw.web_events where _source_location like 'web/events_02.parquet:row %'") == 20
    )
    # Nothing new: nothing read.
    assert env.pull("web", "run-2")["web.event"]["read"] == 0
    # A new file and a rewritten one are read; the merge keeps one row per key.
    env.jsonl("web/events_01.jsonl", events(1, 35))
    env.jsonl("web/events_03.jsonl", events(3, 5))
    summary = env.pull("web", "run-3")["web.event"]
    assert (summary["read"], summary["loaded"]) == (40, 40)
    assert env.one("select count(*) from raw.web_events") == 60


def test_schema_drift_adds_new_columns_from_every_format(env) -> None:
    env.configure(FILES)
    env.jsonl("web/events_01.jsonl", [{**WEB, "Campaign Id": "spring", "depth": 3}])
    env.write("marketing/engagements_a.csv", "Engagement ID,Email,channel,action,asset_name,occurred_at,Region\n"
              "M1,jane@acme.com,email,email_open,Newsletter,2026-11-19T10:00:00Z,EMEA\n")  # fmt: skip
    env.pull("web")
    env.pull("marketing")
    assert env.rows("select campaign_id, depth from raw.web_events") == [("spring", "3")]
    assert env.rows("select engagement_id, region from raw.marketing_engagements") == [("M1", "EMEA")]


def test_a_missing_required_column_fails_that_source_naming_file_and_column(env) -> None:
    env.configure(FILES)
    env.write("marketing/engagements_a.csv", engagements(range(3)))
    env.write("marketing/engagements_b.csv", "engagement_id,channel,action,asset_name,occurred_at\nM9,email,x,y,z\n")
    env.write("quiz/responses.csv", "response_id,email,submitted_at,score\nQ1,jane@acme.com,2026-11-19T10:00:00Z,80\n")
    with pytest.raises(SourceError) as err:
        env.pull("marketing")
    message = str(err.value)
    assert "marketing" in message and "engagements_b.csv" in message and "lacks required column(s) email" in message
    # The good file of the same source is loaded, and so is every other source.
    assert env.one("select count(*) from raw.marketing_engagements") == 3
    assert env.pull("quiz")["quiz.response"]["loaded"] == 1


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet"])
def test_a_truncated_file_fails_cleanly_and_the_retry_completes_it(env, kind: str) -> None:
    env.configure(FILES)
    if kind == "jsonl":
        good, rel = env.jsonl("web/events_01.jsonl", events(1, 10)), "web/events_02.jsonl"
        full = "".join(json.dumps(e) + "\n" for e in events(2, 10)).encode()
        source, table = "web", "raw.web_events"
    elif kind == "csv":
        good, rel = env.write("marketing/engagements_a.csv", engagements(range(10))), "marketing/engagements_b.csv"
        full = engagements(range(10, 20)).encode()
        source, table = "marketing", "raw.marketing_engagements"
    else:
        (env.landing / "web").mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(events(1, 10)), env.landing / "web" / "events_01.parquet")
        good, rel = None, "web/events_02.parquet"
        pq.write_table(pa.Table.from_pylist(events(2, 10)), env.landing / rel)
        full = (env.landing / rel).read_bytes()
        source, table = "web", "raw.web_events"
    assert good is None or good.exists()
    env.write(rel, full[: len(full) - 25])  # the writer was cut off
    with pytest.raises(SourceError, match="truncated|not a readable Parquet"):
        env.pull(source)
    assert env.one(f"select count(*) from {table}") == 10  # only the complete file
    assert env.one("select count(*) from ops.loaded_files") == 1
    env.write(rel, full)  # the upload completes; Airflow retries the task (same run)
    env.pull(source)
    assert env.one(f"select count(*) from {table}") == 20
    audit = env.audit(source)
    assert [(a[3], a[4], a[5]) for a in audit] == [(20, 20, 0)]


@pytest.fixture(scope="module")
def s3_server():
    """A local S3-compatible server (moto) on a free loopback port."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_files_on_s3_load_through_the_same_loaders(env, s3_server, monkeypatch) -> None:
    import boto3

    monkeypatch.setenv("LANDING_S3_ENDPOINT", s3_server)
    s3 = boto3.client("s3", endpoint_url=s3_server, aws_access_key_id="test", aws_secret_access_key="test",
                      region_name="us-east-1")  # fmt: skip
    bucket = f"landing-{os.getpid()}-{datetime.now(UTC).strftime('%H%M%S%f')}"
    s3.create_bucket(Bucket=bucket)
    body = "".join(json.dumps(e) + "\n" for e in events(1, 25))
    s3.put_object(Bucket=bucket, Key="exports/web/events_01.jsonl", Body=body.encode())
    s3.put_object(Bucket=bucket, Key="exports/marketing/engagements_a.csv", Body=engagements(range(7)).encode())
    options = {"endpoint_url": "${LANDING_S3_ENDPOINT}", "key": "test", "secret": "test"}
    config = {
        "web": {"kind": "files", "location": f"s3://{bucket}/exports", "storage_options": options,
                "entities": {"event": {"pattern": "web/*.jsonl"}}},
        "marketing": {"kind": "files", "location": f"s3://{bucket}/exports", "storage_options": options,
                      "format": "csv", "entities": {"engagement": {"pattern": "marketing/*.csv"}}},
    }  # fmt: skip
    env.configure(config)
    assert env.pull("web")["web.event"]["loaded"] == 25
    assert env.pull("marketing")["marketing.engagement"]["loaded"] == 7
    assert env.one("select path from ops.loaded_files where source = 'web.event'") == (
        f"s3://{bucket}/exports/web/events_01.jsonl"
    )
    assert env.pull("web", "run-2")["web.event"]["read"] == 0  # the same object (ETag): not read again
    body = "".join(json.dumps(e) + "\n" for e in events(1, 30))
    s3.put_object(Bucket=bucket, Key="exports/web/events_01.jsonl", Body=body.encode())
    assert env.pull("web", "run-3")["web.event"]["read"] == 30
    assert env.one("select count(*) from raw.web_events") == 30


def test_csv_quoting_multiline_fields_and_windows_line_ends(env) -> None:
    env.configure(FILES)
    env.write(
        "marketing/engagements_a.csv",
        HEADER.replace("\n", "\r\n")
        + 'M1,jane@acme.com,email,email_open,"Guide, part 1\r\n""the good one""",2026-11-19T10:00:00Z\r\n'
        + "M2,joe@acme.com,email,email_click,Plain,2026-11-19T10:01:00Z\r\n",
    )
    assert env.pull("marketing")["marketing.engagement"]["loaded"] == 2
    assert env.rows("select engagement_id, asset_name, _source_location from raw.marketing_engagements order by 1") == [
        ("M1", 'Guide, part 1\r\n"the good one"', "marketing/engagements_a.csv:3"),
        ("M2", "Plain", "marketing/engagements_a.csv:4"),
    ]
