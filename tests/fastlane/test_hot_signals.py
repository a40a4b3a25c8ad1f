"""The hot-signal definition is the dbt project's: changed in dbt_project.yml, the batch rule
(int_rule_hits_conversion) and the fast lane's watcher both follow it."""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from leadflow.fastlane.detect import HotSignals, read_candidates
from tests.conftest import REPO
from tests.transform.conftest import AS_OF, create_raw_tables


def _project_with(root: Path, **settings: str) -> Path:
    """A copy of the repository's dbt project with ``settings`` edited in dbt_project.yml, as an analyst would."""
    shutil.copytree(
        REPO / "dbt_project", root / "dbt_project", ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    path = root / "dbt_project" / "dbt_project.yml"
    text = path.read_text()
    for name, value in settings.items():
        text, count = re.subn(rf"^  {name}: .*$", f"  {name}: {value}", text, flags=re.M)
        assert count == 1, name
    path.write_text(text)
    return root


@pytest.fixture
def changed_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from leadflow.settings import reset_settings

    project = _project_with(tmp_path / "project", hot_request_signals="[demo_request, meeting_request]")
    monkeypatch.setenv("LEADFLOW_PROJECT_DIR", str(project))
    monkeypatch.setenv("LEADFLOW_SOURCES_FILE", str(REPO / "sources.yml"))
    monkeypatch.setenv("LEADFLOW_HOME", str(tmp_path / "home"))
    reset_settings()
    yield project
    reset_settings()


def test_the_shipped_definition_is_the_one_the_watcher_reads() -> None:
    hot = HotSignals.from_dbt()
    assert hot.web_events == {"demo_request", "quote_request", "pricing_view"}
    assert (hot.quiz_timeline, hot.checkout_started, hot.checkout_completed) == (
        "this_quarter",
        "checkout_started",
        "checkout_completed",
    )
    assert (hot.window, hot.cart_grace) == (timedelta(hours=48), timedelta(minutes=30))


def test_a_changed_request_signal_changes_the_batch_rule_and_the_fast_lane(warehouse: str, changed_project) -> None:
    from leadflow.transform.dbt import run_dbt

    at = (AS_OF - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    events = [("E1", "a@example.com", "demo_request"), ("E2", "b@example.com", "meeting_request")]
    events += [("E3", "c@example.com", "quote_request"), ("E4", "d@example.com", "page_view")]

    # The fast lane: a meeting request is a candidate now, a quote request no longer.
    text = "".join(
        json.dumps({"event_id": i, "email": e, "event_type": t, "occurred_at": at}) + "\n" for i, e, t in events
    )
    found = read_candidates("web/events_1.jsonl", "web", text)
    assert sorted((c["email"], c["signal"]) for c in found) == [
        ("a@example.com", "demo_request"),
        ("b@example.com", "meeting_request"),
    ]

    # The batch: the same events through dbt make the same people hot, by the same rule names.
    create_raw_tables(warehouse)
    with psycopg.connect(warehouse, autocommit=True) as conn:
        for n, (_, email, _) in enumerate(events, 1):
            conn.execute(
                "insert into raw.crm_leads (lead_id, email, created_at, updated_at, _batch_id, _loaded_at) "
                "values (%s, %s, %s, %s, 'b1', now())",
                (f"L{n}", email, "2026-10-01T00:00:00Z", "2026-10-01T00:00:00Z"),
            )
        for event_id, email, event_type in events:
            conn.execute(
                "insert into raw.web_events (event_id, email, event_type, occurred_at, _batch_id, _loaded_at) "
                "values (%s, %s, %s, %s, 'b1', now())",
                (event_id, email, event_type, at),
            )
    run_dbt(["seed"], as_of=AS_OF)
    run_dbt(["run", "--select", "+int_rule_hits_conversion"], as_of=AS_OF)
    with psycopg.connect(warehouse) as conn:
        hits = conn.execute(
            "select lead_id, rule from intermediate.int_rule_hits_conversion where qualified_at is not null "
            "order by lead_id"
        ).fetchall()
    assert hits == [("L1", "demo_request"), ("L2", "meeting_request")]
