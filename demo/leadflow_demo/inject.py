"""Write hot events into the sources the way the source systems do, for the fast lane's test and benchmark.

Each write is atomic (a hidden temporary file renamed into place, or one SQLite transaction), so a reader
never sees half an event; the returned ``written_at`` (epoch seconds, taken after the write) is where a
latency measurement starts.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

QUIZ_HEADER = [
    "response_id",
    "email",
    "submitted_at",
    "role",
    "team_size",
    "current_tooling",
    "use_case",
    "timeline",
    "budget_range",
    "score",
]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _atomic_write(path: Path, text: str) -> float:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:6]}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return time.time()


def web_events(landing: Path, events: list[dict]) -> float:
    """One new ``web/events_hot_*.jsonl`` file holding ``events`` (contract fields; ids filled in)."""
    now = datetime.now(UTC)
    lines = []
    for e in events:
        record = {
            "event_id": e.get("event_id") or f"wev_hot_{uuid.uuid4().hex[:16]}",
            "anonymous_id": e.get("anonymous_id") or f"anon_hot_{uuid.uuid4().hex[:12]}",
            "email": e.get("email"),
            "user_id": e.get("user_id"),
            "event_type": e["event_type"],
            "page_path": e.get("page_path") or {"pricing_view": "/pricing"}.get(e["event_type"], "/demo"),
            "referrer": None,
            "utm_source": None,
            "utm_campaign": None,
            "occurred_at": e.get("occurred_at") or _iso(now),
        }
        lines.append(json.dumps(record))
    name = f"events_hot_{now.strftime('%Y%m%dT%H%M%S')}_{uuid.uuid4().hex[:8]}.jsonl"
    return _atomic_write(landing / "web" / name, "\n".join(lines) + "\n")


def quiz_response(landing: Path, email: str, timeline: str = "this_quarter", score: int = 85) -> float:
    """One new ``quiz/responses_hot_*.csv`` with a single response."""
    now = datetime.now(UTC)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(QUIZ_HEADER)
    writer.writerow(
        [
            f"qr_hot_{uuid.uuid4().hex[:12]}",
            email,
            _iso(now),
            "head_of",
            "51-200",
            "spreadsheets",
            "pipeline_analytics",
            timeline,
            "10k-50k",
            score,
        ]
    )
    name = f"responses_hot_{now.strftime('%Y%m%dT%H%M%S')}_{uuid.uuid4().hex[:8]}.csv"
    return _atomic_write(landing / "quiz" / name, out.getvalue())


def abandoned_checkout(landing: Path, user_id: str, workspace_id: str | None, minutes_ago: float = 31) -> float:
    """A ``checkout_started`` in the product database that is already past the cart-abandon grace."""
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    with sqlite3.connect(landing / "product" / "app.db", timeout=30) as conn:
        conn.execute(
            "insert into events (event_id, user_id, workspace_id, event_name, properties, occurred_at) "
            "values (?, ?, ?, 'checkout_started', '{\"plan\": \"team\"}', ?)",
            (f"pev_hot_{uuid.uuid4().hex[:12]}", user_id, workspace_id, _iso(at)),
        )
    return time.time()


def pick_cold_leads(url: str, n: int, offset: int = 0) -> list[dict]:
    """Leads with an email that nothing qualifies now and nothing excludes: a hot event makes them hot."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select d.lead_id, d.email from marts.leads d "
            "where d.email is not null and d.email ~ '^[a-z0-9._%%+-]+@[a-z0-9.-]+\\.[a-z]+$' "
            "and not d.is_suppressed and not d.is_customer and not d.is_competitor "
            "and not exists (select 1 from marts.qualified_leads q where q.lead_id = d.lead_id) "
            "and not exists (select 1 from raw.consent_suppressions s where lower(trim(s.email)) = d.email) "
            "and not exists (select 1 from ops.sync_ledger l where l.lead_id = d.lead_id) "
            "order by md5(d.lead_id) offset %s limit %s",
            (offset, n),
        ).fetchall()
    return [{"lead_id": r[0], "email": r[1]} for r in rows]


def pick_suppressed_leads(url: str, n: int) -> list[dict]:
    """Leads whose email is on the consent suppression list (they must never be delivered)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select d.lead_id, d.email from marts.leads d "
            "where d.email is not null and not d.is_customer and not d.is_competitor "
            "and exists (select 1 from raw.consent_suppressions s where lower(trim(s.email)) = d.email) "
            "order by md5(d.lead_id) limit %s",
            (n,),
        ).fetchall()
    return [{"lead_id": r[0], "email": r[1]} for r in rows]


def pick_product_users(url: str, leads: list[dict]) -> dict[str, tuple[str, str | None]]:
    """email -> (product user id, workspace id) for those of ``leads`` who use the product."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select distinct on (lower(trim(email))) lower(trim(email)), user_id, workspace_id "
            "from raw.product_users where lower(trim(email)) = any(%s) order by lower(trim(email)), user_id",
            ([lead["email"] for lead in leads],),
        ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}
