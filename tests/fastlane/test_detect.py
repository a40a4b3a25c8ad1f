"""The watcher's scan: new hot rows in the sources become candidates, once; nothing else does."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import yaml

from leadflow.fastlane.detect import HotSourceScanner
from leadflow_demo import inject


def _product_db(landing: Path) -> Path:
    db = landing / "product" / "app.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "create table if not exists events (event_id text primary key, user_id text, workspace_id text, "
            "event_name text, properties text, occurred_at text)"
        )
    return db


def _scanner(warehouse: str) -> HotSourceScanner:
    from leadflow.warehouse.ops import ensure_ops

    with psycopg.connect(warehouse, autocommit=True) as conn:
        ensure_ops(conn)
    scanner = HotSourceScanner()
    scanner.start()
    return scanner


def test_new_hot_rows_become_candidates_once_and_others_never(warehouse, home) -> None:
    landing = home / "landing"
    _product_db(landing)
    (landing / "web").mkdir(parents=True)
    # a file the pull already loaded is known when the scanner starts, hot rows or not
    old = landing / "web" / "events_2026-01-01.jsonl"
    old.write_text(json.dumps({"event_id": "w0", "event_type": "demo_request", "email": "old@example.com"}) + "\n")
    with psycopg.connect(warehouse, autocommit=True) as conn:
        from leadflow.warehouse.ops import ensure_ops

        ensure_ops(conn)
        from leadflow.pull.readers import list_files

        ref = list_files(str(landing), "web/events_*.jsonl")[0]
        conn.execute(
            "insert into ops.loaded_files (source, path, fingerprint, run_id) values ('web.event', %s, %s, 'r')",
            (ref.url, ref.fingerprint),
        )
    scanner = _scanner(warehouse)
    assert scanner.scan() == []

    inject.web_events(
        landing,
        [
            {"email": "a@example.com", "event_type": "demo_request"},
            {"email": "b@example.com", "event_type": "page_view"},
            {"email": "c@example.com", "event_type": "pricing_view"},
            # older than the hot window: cannot make anyone hot now
            {"email": "d@example.com", "event_type": "quote_request", "occurred_at": "2020-01-01T00:00:00Z"},
        ],
    )
    inject.quiz_response(landing, "e@example.com", timeline="this_quarter")
    inject.quiz_response(landing, "f@example.com", timeline="exploring")
    found = scanner.scan()
    assert sorted((c["source"], c["signal"], c["email"]) for c in found) == [
        ("quiz", "quiz_timeline_this_quarter", "e@example.com"),
        ("web", "demo_request", "a@example.com"),
        ("web", "pricing_view", "c@example.com"),
    ]
    assert scanner.scan() == []  # each file once


def test_cart_abandon_is_due_after_its_grace_unless_completed(warehouse, home) -> None:
    landing = home / "landing"
    db = _product_db(landing)
    scanner = _scanner(warehouse)
    inject.abandoned_checkout(landing, "u1", "w1", minutes_ago=31)  # past the 30-minute grace already
    inject.abandoned_checkout(landing, "u2", "w2", minutes_ago=5)  # not yet
    inject.abandoned_checkout(landing, "u3", "w3", minutes_ago=10)
    with sqlite3.connect(db) as conn:  # u3 completes the purchase
        at = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        conn.execute("insert into events values ('done3', 'u3', 'w3', 'checkout_completed', '{}', ?)", (at,))
    assert [c["user_id"] for c in scanner.scan()] == ["u1"]
    later = datetime.now(UTC) + timedelta(minutes=26)
    assert [c["user_id"] for c in scanner.scan(now=later)] == ["u2"]
    assert scanner.scan(now=later + timedelta(hours=1)) == []


def test_the_watcher_reads_a_landing_zone_on_a_url(warehouse, home, monkeypatch) -> None:
    """Workers on several machines share the landing zone as an object store: the watcher polls it there too
    (memory:// stands in for s3:// in this process)."""
    import fsspec

    from leadflow.settings import reset_settings

    url = f"memory://landing-{uuid.uuid4().hex[:8]}"
    sources = home / "sources.url.yml"
    sources.write_text(
        yaml.safe_dump(
            {
                "web": {"kind": "files", "format": "jsonl", "location": url,
                        "entities": {"event": {"pattern": "web/events_*.jsonl"}}},
                "quiz": {"kind": "files", "format": "csv", "location": url,
                         "entities": {"response": {"pattern": "quiz/responses_*.csv"}}},
            }
        )
    )  # fmt: skip
    monkeypatch.setenv("LEADFLOW_SOURCES_FILE", str(sources))
    reset_settings()
    fs = fsspec.filesystem("memory")
    fs.pipe_file(f"{url}/web/events_old.jsonl", b'{"event_id": "w0", "event_type": "page_view"}\n')
    scanner = _scanner(warehouse)
    assert scanner.scan() == []
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    hot = {"event_id": "w1", "event_type": "demo_request", "email": "url@example.com", "occurred_at": now}
    fs.pipe_file(f"{url}/web/events_new.jsonl", (json.dumps(hot) + "\n").encode())
    fs.pipe_file(
        f"{url}/quiz/responses_1.csv",
        f"response_id,email,timeline,submitted_at\nq1,quiz@example.com,this_quarter,{now}\n".encode(),
    )
    found = scanner.scan()
    assert sorted((c["source"], c["email"], c["file"].split(url.split("//")[1])[-1]) for c in found) == [
        ("quiz", "quiz@example.com", "/quiz/responses_1.csv"),
        ("web", "url@example.com", "/web/events_new.jsonl"),
    ]
    assert all(c["file"].startswith("memory://") for c in found)  # the URL the pull records in ops.loaded_files
    assert scanner.scan() == []
