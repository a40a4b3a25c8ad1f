"""The CRM REST API source (HubSpot v3 list shape) against the local API with injected faults."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from leadflow.pull.readers import SourceError
from leadflow_demo.api_server import CrmApiServer

from .conftest import AS_OF


def lead(i: int, updated: str = "2026-11-10T10:00:00Z", **props) -> dict:
    properties = {
        "lead_id": f"L{i}",
        "email": f"lead{i}@acme.com",
        "created_at": "2026-11-01T10:00:00Z",
        "updated_at": updated,
        "status": "NEW",
        **props,
    }
    return {"id": f"L{i}", "properties": properties, "createdAt": "2026-11-01T10:00:00Z", "updatedAt": updated,
            "archived": False}  # fmt: skip


def serve(env, objects: list) -> None:
    env.jsonl("crm_api/leads.jsonl", [json.dumps(o) for o in objects])


@pytest.fixture
def api(env):
    with CrmApiServer(root=env.landing, max_rps=None) as server:
        yield server


def configure(env, api: CrmApiServer, **options) -> None:
    cfg = {"kind": "rest_api", "base_url": api.url, "page_size": 10, "backoff_seconds": 0.01,
           "max_backoff_seconds": 0.05, "entities": {"lead": {"path": "/crm/v3/objects/leads"}}}  # fmt: skip
    env.configure({"crm": {**cfg, **options}})


def test_pages_through_everything_once(env, api) -> None:
    serve(env, [lead(i, f"2026-11-10T10:{i:02d}:00Z") for i in range(45)])
    configure(env, api)
    assert env.pull("crm")["crm.lead"]["loaded"] == 45
    assert api.stats()["by_path"]["/crm/v3/objects/leads"] == 5  # 10 per page
    assert env.one("select count(distinct lead_id) from raw.crm_leads") == 45


def test_429_with_retry_after_is_honoured(env) -> None:
    with CrmApiServer(root=env.landing, max_rps=8) as api:
        serve(env, [lead(i) for i in range(120)])
        configure(env, api)
        assert env.pull("crm")["crm.lead"]["loaded"] == 120
        assert api.stats()["rate_limited"] > 0
    assert env.one("select count(*) from raw.crm_leads") == 120


def test_5xx_are_retried_with_backoff(env, api) -> None:
    serve(env, [lead(i) for i in range(60)])
    configure(env, api)
    api.faults.update(status_5xx_every=2, fail_next=2, status=502)
    assert env.pull("crm")["crm.lead"]["loaded"] == 60
    assert api.stats()["faults_injected"] >= 5
    assert [(a[3], a[4], a[5]) for a in env.audit()] == [(60, 60, 0)]


def test_timeouts_give_up_cleanly_and_the_retry_loads_everything_once(env, api, caplog) -> None:
    serve(env, [lead(i) for i in range(30)])
    configure(env, api, timeout_seconds=0.2, retries=2)
    api.faults.update(delay_seconds=0.5)
    with pytest.raises(SourceError, match="page 1: gave up after 3 attempts"):
        env.pull("crm")
    retries = [r for r in caplog.records if r.name == "leadflow.pull.readers.rest" and "retrying after" in r.message]
    assert len(retries) == 2  # the first try timed out, and so did both retries
    assert env.one("select count(*) from raw.crm_leads") == 0
    assert env.audit() == []
    assert env.one("select count(*) from ops.source_cursors") == 0
    api.reset()
    env.pull("crm")  # the Airflow retry
    assert env.one("select count(*), count(distinct lead_id) from raw.crm_leads") == 30
    assert [(a[3], a[4], a[5]) for a in env.audit()] == [(30, 30, 0)]


def test_a_failure_on_a_later_page_leaves_nothing_half_loaded(env, api) -> None:
    serve(env, [lead(i, f"2026-11-10T10:{i:02d}:00Z") for i in range(50)])
    configure(env, api, retries=1)
    original = api.faults.next_failure
    calls = {"n": 0}

    def fail_from_the_third_page() -> int | None:
        calls["n"] += 1
        return 503 if calls["n"] >= 3 else original()

    api.faults.next_failure = fail_from_the_third_page
    with pytest.raises(SourceError, match="page 3: gave up"):
        env.pull("crm")
    assert env.one("select count(*) from raw.crm_leads") == 0
    api.faults.next_failure = original
    env.pull("crm")
    assert env.one("select count(*) from raw.crm_leads") == 50


def test_unauthorised_fails_at_once(env) -> None:
    with CrmApiServer(root=env.landing, max_rps=None, token="secret") as api:
        serve(env, [lead(1)])
        configure(env, api)
        with pytest.raises(SourceError, match="HTTP 401"):
            env.pull("crm")
        assert api.stats()["requests"] == 1
        configure(env, api, token="secret")
        assert env.pull("crm")["crm.lead"]["loaded"] == 1


def test_bad_objects_are_quarantined_with_their_page(env, api) -> None:
    serve(env, [lead(1), {"id": "L2", "updatedAt": "2026-11-10T10:00:00Z"}, lead(3, email="nobody@")])
    configure(env, api)
    env.pull("crm")
    assert env.quarantine() == [
        ("GET /crm/v3/objects/leads page 1 item 1", None, "API object without properties"),
        ("GET /crm/v3/objects/leads page 1 item 2", "email", 'invalid email: "nobody@"'),
    ]
    assert [(a[3], a[4], a[5]) for a in env.audit()] == [(3, 1, 2)]


def test_incremental_pulls_use_the_cursor_and_the_look_back(env, api) -> None:
    serve(env, [lead(i, f"2026-11-10T{i:02d}:00:00Z") for i in range(10)])
    configure(env, api, lookback_hours=3)
    assert env.pull("crm")["crm.lead"]["read"] == 10
    # Later: two changed, one new, one late arrival stamped inside the look-back window.
    serve(env, [lead(i, f"2026-11-10T{i:02d}:00:00Z") for i in range(10) if i not in (2, 5)]
          + [lead(2, "2026-11-11T01:00:00Z", status="OPEN"), lead(5, "2026-11-11T02:00:00Z", status="OPEN"),
             lead(10, "2026-11-11T03:00:00Z"), lead(11, "2026-11-10T07:30:00Z")])  # fmt: skip
    second = env.pull("crm", "run-2", AS_OF + timedelta(hours=1))["crm.lead"]
    # updatedAfter = 09:00 - 3 h = 06:00: leads 7, 8, 9 again, the late 11, the changed 2 and 5, the new 10.
    assert second["read"] == 7
    assert env.one("select count(*) from raw.crm_leads") == 12
    assert env.rows("select lead_id, status from raw.crm_leads where lead_id in ('L2', 'L5') order by 1") == [
        ("L2", "OPEN"),
        ("L5", "OPEN"),
    ]


@pytest.mark.parametrize("at_once", [True, False])
def test_the_entities_of_an_api_source_are_read_at_the_same_time(env, api, monkeypatch, at_once: bool) -> None:
    """Each entity pages through its own cursor: against a slow API their round trips overlap (unless the
    source says ``entities_at_once: false``), and each still loads everything once."""
    import threading
    import time

    from leadflow.pull import run

    serve(env, [lead(i) for i in range(25)])
    env.jsonl("crm_api/accounts.jsonl", [])
    env.jsonl("crm_api/opportunities.jsonl", [])
    paths = {n: {"path": f"/crm/v3/objects/{p}"} for n, p in (("lead", "leads"), ("account", "accounts"),
                                                                ("opportunity", "opportunities"))}  # fmt: skip
    configure(env, api, entities=paths, entities_at_once=at_once)
    api.faults.update(delay_seconds=0.2)  # every page takes a while
    spans, original = {}, run._pull_entity

    def timed(conn, entity, *args):
        started = time.monotonic()
        original(conn, entity, *args)
        spans[entity.name] = (started, time.monotonic(), threading.current_thread() is threading.main_thread())

    monkeypatch.setattr(run, "_pull_entity", timed)
    summary = env.pull("crm")
    assert {k: v["loaded"] for k, v in summary.items()} == {"crm.lead": 25, "crm.account": 0, "crm.opportunity": 0}
    overlap = max(s[0] for s in spans.values()) < min(s[1] for s in spans.values())
    assert overlap == at_once
    assert all(s[2] != at_once for s in spans.values())  # own threads, or the caller's
