"""The fast lane under the real Airflow scheduler, end to end, then the batch pipeline after it.

Batch data for a few hundred demo leads sits in the warehouse (pulled and built by the batch's own steps).
Airflow runs as scheduler, dag-processor, triggerer and api-server processes on a PostgreSQL metadata
database; hot events are written into the landing zone and the product database; the local fake Slack
and Outreach servers must receive each hot lead once — and never a suppressed one, nor a lead whose new
event is not a hot signal. Then the batch runs (pull, dbt build, gate, sync): it must send none of the
fast lane's leads again, compute the same content for them (same dbt logic), and report their delivery in
marts.speed_to_lead.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import psycopg
import pytest

from leadflow_demo import inject
from leadflow_demo.destinations_server import DestinationServers, SlackWebhook
from tests.conftest import scratch_warehouse

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

LEADS = 250
DELIVERY_TIMEOUT = 150  # seconds from the first write; the lane answers in tens of seconds on a busy machine


@pytest.fixture(scope="module")
def lane_env(server_url: str, tmp_path_factory: pytest.TempPathFactory):
    from leadflow.settings import get_settings
    from leadflow_demo.airflow_services import run_batch_steps
    from leadflow_demo.api_server import CrmApiServer
    from leadflow_demo.generator import generate

    root = tmp_path_factory.mktemp("fastlane")
    servers = DestinationServers(limits={"outreach": None, "hubspot": None, "slack": None, "webhook": None}).start()
    lane = {
        "LEADFLOW_LANDING_DIR": str(root / "landing"),
        "LEADFLOW_OUTBOX_DIR": str(root / "outbox"),
        "LEADFLOW_SYNC_DESTINATIONS": '["slack", "outreach"]',
        **servers.connections(rate_limits={"slack": "off", "outreach": "off"}),
    }
    with scratch_warehouse(server_url, "fl", **lane) as url:
        env = {"LEADFLOW_WAREHOUSE_URL": url, **lane}
        settings = get_settings()
        as_of = datetime.now(UTC).replace(second=0, microsecond=0)
        generate(settings.landing, leads=LEADS, seed=23, as_of=as_of)
        api = CrmApiServer(root=settings.landing, port=int(settings.api_url.rsplit(":", 1)[1]), max_rps=None).start()
        try:
            run_batch_steps("batch-before", as_of, settings, sync=False)  # batch data in the warehouse
            yield {"url": url, "settings": settings, "servers": servers, "env": env, "server_url": server_url}
        finally:
            api.stop()
            servers.stop()
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute("drop database if exists airflow_fastlane_test with (force)")


def _slack_leads(servers: DestinationServers) -> list[str]:
    return [SlackWebhook.ref(m) for m in servers.slack.messages]


def _prospect_emails(servers: DestinationServers) -> list[str]:
    return [str(e).lower() for p in servers.outreach.prospects.values() for e in (p["attributes"].get("emails") or [])]


@pytest.fixture(scope="module")
def fast_lane_run(lane_env):
    from leadflow_demo.airflow_services import AirflowServices

    url, settings, servers = lane_env["url"], lane_env["settings"], lane_env["servers"]
    cold = inject.pick_cold_leads(url, 4)
    suppressed = inject.pick_suppressed_leads(url, 1)
    assert len(cold) == 4 and suppressed, "the demo data lacks cold or suppressed leads"
    hot = {"demo": cold[0], "quiz": cold[1], "pricing": cold[2]}
    users = inject.pick_product_users(url, cold)
    services = AirflowServices(
        settings,
        url,
        lane_env["server_url"],
        ["leadflow_fast_lane.py"],
        name="airflow_fastlane_test",
        extra_env=lane_env["env"],
    )
    with services:
        services.wait_for_watcher("leadflow_fast_lane")
        written = {
            # the CRM's email, in the case and spacing a web form sends
            "demo": inject.web_events(
                settings.landing, [{"email": f" {hot['demo']['email'].upper()}", "event_type": "demo_request"}]
            ),
            "quiz": inject.quiz_response(settings.landing, hot["quiz"]["email"], score=90),
            # three pricing views in an hour: the third makes the lead hot
            "pricing": inject.web_events(
                settings.landing,
                [
                    {"email": hot["pricing"]["email"], "event_type": "pricing_view", "occurred_at": at}
                    for at in _minutes_ago(50, 20, 0)
                ],
            ),
            "suppressed": inject.web_events(
                settings.landing, [{"email": suppressed[0]["email"], "event_type": "quote_request"}]
            ),
            # not a hot signal: no alert, and no candidate at all
            "cold": inject.web_events(settings.landing, [{"email": cold[3]["email"], "event_type": "page_view"}]),
        }
        deadline = written["demo"] + DELIVERY_TIMEOUT
        expected = {hot[k]["lead_id"] for k in hot}
        while time.time() < deadline and not expected <= set(_slack_leads(servers)):
            services.check_alive()
            time.sleep(0.5)
        arrived = time.time()
        time.sleep(3)  # anything more the lane would send (a duplicate, the suppressed lead) has time to arrive
        runs = services.dag_runs("leadflow_fast_lane")
        logs = {p.name: p.read_text()[-4000:] for p in services.logs.iterdir()}
    return {
        "hot": hot,
        "cold": cold[3],
        "suppressed": suppressed[0],
        "written": written,
        "arrived": arrived,
        "runs": runs,
        "logs": logs,
        "users": users,
    }


def _minutes_ago(*minutes: int) -> list[str]:
    now = time.time()
    return [datetime.fromtimestamp(now - m * 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for m in minutes]


def test_hot_leads_reach_slack_and_outreach_once(lane_env, fast_lane_run) -> None:
    servers = lane_env["servers"]
    slack = _slack_leads(servers)
    expected = {lead["lead_id"] for lead in fast_lane_run["hot"].values()}
    assert expected <= set(slack), (
        f"not alerted: {expected - set(slack)}; runs {fast_lane_run['runs']}; logs {fast_lane_run['logs']}"
    )
    for lead_id in expected:
        assert slack.count(lead_id) == 1, f"{lead_id} alerted {slack.count(lead_id)} times"
    prospects = _prospect_emails(servers)
    for lead in fast_lane_run["hot"].values():
        assert prospects.count(lead["email"]) == 1, f"{lead['email']} is not exactly once in Outreach"
    assert all(state == "success" for _, state, *_ in fast_lane_run["runs"]), fast_lane_run["runs"]
    with psycopg.connect(lane_env["url"]) as conn:
        rows = conn.execute(
            "select lead_id, destination from ops.sync_ledger where status = 'delivered' and lead_id = any(%s)",
            (sorted(expected),),
        ).fetchall()
        runs = conn.execute("select status, candidates, seconds from ops.fastlane_runs").fetchall()
    assert {(lead_id, d) for lead_id in expected for d in ("slack", "outreach")} <= set(rows)
    assert any(status == "ok" and candidates >= 1 for status, candidates, _ in runs), runs


def test_suppressed_and_non_hot_leads_are_never_delivered(lane_env, fast_lane_run) -> None:
    servers = lane_env["servers"]
    for lead in (fast_lane_run["suppressed"], fast_lane_run["cold"]):
        assert lead["lead_id"] not in _slack_leads(servers)
        assert lead["email"] not in _prospect_emails(servers)
        assert lead["email"] not in json.dumps(servers.slack.messages).lower()
    with psycopg.connect(lane_env["url"]) as conn:
        held = conn.execute(
            "select count(*) from ops.sync_ledger where lead_id = any(%s)",
            ([fast_lane_run["suppressed"]["lead_id"], fast_lane_run["cold"]["lead_id"]],),
        ).fetchone()[0]
    assert held == 0


def test_batch_run_after_the_fast_lane_sends_nothing_again(lane_env, fast_lane_run) -> None:
    from leadflow_demo.airflow_services import run_batch_steps

    servers, url = lane_env["servers"], lane_env["url"]
    hot = fast_lane_run["hot"]
    hot_ids = sorted(lead["lead_id"] for lead in hot.values())
    with psycopg.connect(url) as conn:
        delivered = dict(
            conn.execute(
                "select lead_id, content_hash from ops.sync_ledger where destination = 'slack' and lead_id = any(%s)",
                (hot_ids,),
            ).fetchall()
        )
    run_batch_steps("batch-after", datetime.now(UTC), lane_env["settings"])
    slack = _slack_leads(servers)
    prospects = _prospect_emails(servers)
    for lead in hot.values():
        assert slack.count(lead["lead_id"]) == 1, f"the batch alerted {lead['lead_id']} again"
        assert prospects.count(lead["email"]) == 1
    assert fast_lane_run["suppressed"]["email"] not in prospects
    with psycopg.connect(url) as conn:
        # same dbt logic, same data: the batch computes exactly the content the fast lane delivered
        batch_hashes = dict(
            conn.execute(
                "select lead_id, content_hash from marts.outreach_queue where destination = 'slack' "
                "and lead_id = any(%s)",
                (hot_ids,),
            ).fetchall()
        )
        resent = conn.execute(
            "select l.lead_id, l.destination, l.action from ops.sync_log l join ops.sync_runs r using (sync_run_id) "
            "where r.run_id = 'batch-after' and l.lead_id = any(%s) and l.action in ('create', 'update', 'retry')",
            (hot_ids,),
        ).fetchall()
        speed = conn.execute(
            "select lead_id, primary_type, qualifying_event_at, synced_at from marts.speed_to_lead "
            "where lead_id = any(%s)",
            (hot_ids,),
        ).fetchall()
    assert batch_hashes == delivered
    assert resent == []
    assert {r[0] for r in speed} == set(hot_ids)
    for lead_id, primary_type, qualifying_event_at, synced_at in speed:
        assert primary_type == "conversion_qualified", lead_id
        assert synced_at is not None and synced_at >= qualifying_event_at, (lead_id, qualifying_event_at, synced_at)
