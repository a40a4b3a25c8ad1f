"""Outreach sync benchmark: requests per changed lead, an unchanged re-run, throughput against the rate limit.

    .venv/bin/python -m bench.sync                 # 100,000 leads (about 6 minutes on 2 cores)
    .venv/bin/python -m bench.sync --leads 10000   # quicker

Starts its own embedded PostgreSQL (/tmp/syncbench/pgdata, port 55433) and the fake destination APIs
(plugins/leadflow/demo/destinations_server.py, in a separate process so they do not share the GIL
with the sync), synthesises ``marts.outreach_queue`` rows directly, runs the sync phase by phase and
prints one table; the figures also go to /tmp/syncbench/sync-bench.json. It stops both servers at the end.
Benchmarks report; they never fail on a timing.

Targets (issue "Sync"): requests per changed lead = ceil(changed / batch size) / changed, plus retries;
an unchanged re-run sends 0 requests; throughput ≥ 90% of the rate limit when the limit binds.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click
import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
WORK = Path("/tmp/syncbench")
PORT = 55433
TOKEN = "bench-token"
WEBHOOK_SECRET = "bench-webhook-secret"

HOT = ["account_executive", "product_led_sales", "sdr_follow_up", "sdr_nurture"]


@dataclass
class Phase:
    phase: str
    destination: str
    leads_planned: int
    changed: int
    requests: int
    floor_requests: int
    retries: int
    rate_limited: int
    seconds: float
    limit_rps: float | None = None
    server_rps: float | None = None
    notes: dict = field(default_factory=dict)

    @property
    def requests_per_changed(self) -> float | None:
        return round(self.requests / self.changed, 4) if self.changed else None

    @property
    def share_of_limit(self) -> float | None:
        """Only when the limit can bind: more requests than the client bucket's burst plus 10 s of its rate."""
        if not self.limit_rps or not self.server_rps or self.requests < max(20, 2 * self.limit_rps):
            return None
        return round(self.server_rps / self.limit_rps, 3)


def free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def start_fakes(base_port: int, outreach_rps: int, webhook_rps: int) -> tuple[subprocess.Popen, dict[str, str]]:
    cmd = [
        sys.executable,
        "-m",
        "leadflow.demo.destinations_server",
        "--base-port",
        str(base_port),
        "--token",
        TOKEN,
        "--webhook-secret",
        WEBHOOK_SECRET,
        "--limit",
        f"outreach={outreach_rps}/1s",
        "--limit",
        f"webhook={webhook_rps}/1s",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    env: dict[str, str] = {}
    while len(env) < 4:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake destination servers did not start")
        if line.startswith("export AIRFLOW_CONN_"):
            key, _, value = line[len("export ") :].strip().partition("=")
            env[key] = value.strip("'")
    return proc, env


def admin(base: str, path: str, body: dict | None = None) -> dict:
    if body is None:
        return httpx.get(base + path, timeout=30).json()
    return httpx.post(base + path, json=body, timeout=30).json()


def synthesise(url: str, leads: int, outreach_leads: int, slack_leads: int) -> None:
    """outreach_queue rows shaped like the dbt model's, for file/hubspot/webhook (all), outreach and slack (some)."""
    with psycopg.connect(url, autocommit=True) as conn:
        from leadflow.quality import record
        from leadflow.warehouse.db import ensure_ops_schema

        ensure_ops_schema(conn)
        conn.execute("create schema if not exists marts")
        conn.execute("drop table if exists marts.outreach_queue")
        conn.execute(
            """
            create table marts.outreach_queue as
            with leads as (
                select
                    g,
                    'L' || lpad(g::text, 7, '0') as lead_id,
                    'lead' || g || '@bench.example.com' as email,
                    (array['account_executive', 'product_led_sales', 'sdr_follow_up', 'sdr_nurture'])[1 + g %% 4]
                        as route,
                    (array['conversion_qualified', 'pql', 'conversation_qualified', 'mql'])[1 + g %% 4] as primary_type,
                    timestamptz '2026-05-20 09:00:00+00' - make_interval(mins => g %% 5000) as qualified_at
                from generate_series(1, %(leads)s) as g
            ),
            payloads as (
                select *, jsonb_build_object(
                    'lead_id', lead_id, 'email', email, 'first_name', 'First' || g, 'last_name', 'Last' || g,
                    'company_name', 'Company ' || (g %% 9000), 'title', 'Head of Operations',
                    'primary_type', primary_type, 'qualification_types', jsonb_build_array(primary_type),
                    'route', route, 'reasons_text', 'requested a demo; 3 pricing-page views; team of 50',
                    'qualified_at', to_char(qualified_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                    'sla_due_at', to_char((qualified_at + interval '1 day') at time zone 'UTC',
                                          'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                ) as payload
                from leads
            )
            select lead_id || ':' || d as queue_id, lead_id, d as destination, email, payload,
                   md5(payload::text) as content_hash, route, primary_type,
                   qualified_at + interval '1 day' as sla_due_at, qualified_at
            from payloads
            cross join lateral unnest(
                array['file', 'hubspot', 'webhook']
                || case when g <= %(outreach)s then array['outreach'] else array[]::text[] end
                || case when g <= %(slack)s * 4 and route = 'account_executive' then array['slack']
                        else array[]::text[] end
            ) as d
            """,
            {"leads": leads, "outreach": outreach_leads, "slack": slack_leads},
        )
        conn.execute("alter table marts.outreach_queue add primary key (queue_id)")
        conn.execute("analyze marts.outreach_queue")
        # 20,000 suppressions of other people, as a real consent list would hold
        conn.execute("drop table if exists raw.consent_suppressions")
        conn.execute(
            "create table raw.consent_suppressions as select 'gone' || g || '@elsewhere.example.com' as email, "
            "'unsubscribed' as reason, now() as added_at from generate_series(1, 20000) as g"
        )
        conn.execute("alter table raw.consent_suppressions add primary key (email, reason)")
        record(conn, "bench", "s", 1, [])


def change(url: str, share: float, destinations: tuple[str, ...], tag: str) -> int:
    """Change the reasons of a share of the leads (every destination row of those leads)."""
    every = max(1, round(1 / share))
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(
            "update marts.outreach_queue set payload = jsonb_set(payload, '{reasons_text}', to_jsonb(%s::text)), "
            "content_hash = md5(jsonb_set(payload, '{reasons_text}', to_jsonb(%s::text))::text) "
            "where substr(lead_id, 2)::int %% %s = 0 and destination = any(%s)",
            (tag, tag, every, list(destinations)),
        )
        return cur.rowcount


def run_phase(url: str, phase: str, name: str, fakes: dict[str, str] | None, batch_floor: int | None) -> Phase:
    from leadflow.settings import get_settings
    from leadflow.sync.engine import build_destination, sync_destination

    destination = build_destination(name, get_settings())
    outbox = Path(get_settings().outbox / "file")
    files_before = len(list(outbox.glob("batch-*")))
    if fakes and name in fakes:
        admin(fakes[name], "/_admin/reset", {"stats_only": True})
    with psycopg.connect(url, autocommit=True) as conn:
        report, _ = sync_destination(conn, destination, "bench")
    if hasattr(destination, "close"):
        destination.close()
    changed = report.sent + report.updated + report.retried + report.removed
    server_rps = None
    requests = report.requests
    if fakes and name in fakes:
        after = admin(fakes[name], "/_admin/stats")
        # the server's view: requests per second between its first and last request of this phase
        if after["requests"] > 1 and after["active_seconds"] > 0:
            server_rps = round((after["requests"] - 1) / after["active_seconds"], 3)
    if name == "file":
        requests = len(list(outbox.glob("batch-*"))) - files_before
    limit = getattr(destination, "rate_limit", None)
    floor = math.ceil(changed / batch_floor) if batch_floor else changed
    return Phase(
        phase,
        name,
        report.planned,
        changed,
        requests,
        floor,
        report.request_retries,
        report.rate_limited,
        round(report.seconds, 2),
        round(limit.per_second, 3) if limit else None,
        server_rps,
        {
            "status": report.status,
            "rejected": report.rejected,
            "unchanged": report.unchanged,
            "timeouts": report.details.get("timeouts", 0),
            "server_errors": report.details.get("server_errors", 0),
        },
    )


@click.command()
@click.option("--leads", default=100_000, show_default=True, type=int)
@click.option("--outreach-leads", default=2_000, show_default=True, type=int, help="Leads also queued for Outreach.")
@click.option("--outreach-rps", default=100, show_default=True, type=int, help="Outreach quota in the bench.")
@click.option("--webhook-rps", default=50, show_default=True, type=int, help="Webhook quota in the bench.")
@click.option("--slack-leads", default=20, show_default=True, type=int, help="Hot leads announced on Slack (1/s).")
@click.option("--base-port", default=18790, show_default=True, type=int)
def main(
    leads: int, outreach_leads: int, outreach_rps: int, webhook_rps: int, slack_leads: int, base_port: int
) -> None:
    """Run the sync benchmark and print the figures."""
    sys.path.insert(0, str(REPO / "plugins"))
    from leadflow.settings import reset_settings
    from leadflow.warehouse.embedded import EmbeddedPostgres

    if not all(free(base_port + i) for i in range(4)):
        raise click.ClickException(f"ports {base_port}..{base_port + 3} are taken; pass --base-port")
    shutil.rmtree(WORK / "outbox", ignore_errors=True)
    server = EmbeddedPostgres(WORK / "pgdata", PORT)
    fakes_proc = None
    phases: list[Phase] = []
    started = time.monotonic()
    try:
        maintenance = server.start()
        with psycopg.connect(maintenance.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute("drop database if exists syncbench with (force)")
            conn.execute("create database syncbench")
        url = maintenance.rsplit("/", 1)[0] + "/syncbench"
        fakes_proc, conns = start_fakes(base_port, outreach_rps, webhook_rps)
        os.environ.update(conns)
        os.environ["LEADFLOW_WAREHOUSE_URL"] = url
        os.environ["LEADFLOW_OUTBOX_DIR"] = str(WORK / "outbox")
        os.environ["LEADFLOW_SYNC_HTTP_TIMEOUT_SECONDS"] = "5"
        reset_settings()
        fakes = {
            "outreach": f"http://127.0.0.1:{base_port}",
            "hubspot": f"http://127.0.0.1:{base_port + 1}",
            "slack": f"http://127.0.0.1:{base_port + 2}",
            "webhook": f"http://127.0.0.1:{base_port + 3}",
        }
        t = time.monotonic()
        synthesise(url, leads, outreach_leads, slack_leads)
        click.echo(f"synthesised {leads:,} leads in {time.monotonic() - t:.1f}s", err=True)

        def phase(label: str, name: str, batch: int | None) -> Phase:
            result = run_phase(url, label, name, fakes, batch)
            phases.append(result)
            click.echo(f"  {label:<28} {name:<9} {result.requests:>6} requests  {result.seconds:>7.1f}s", err=True)
            return result

        # 1. first delivery of everything, at the documented HubSpot quota (190 / 10 s) and the bench quotas
        phase("initial", "file", 5000)
        phase("initial", "hubspot", 100)
        phase("initial", "webhook", 100)
        phase("initial", "outreach", None)
        phase("initial", "slack", None)
        # 2. unchanged re-run: no request at all
        for name in ("file", "hubspot", "webhook", "outreach", "slack"):
            phase("unchanged re-run", name, None)
        # 3. 1% of the leads changed
        change(url, 0.01, ("file", "hubspot", "webhook", "outreach"), "reasons v2")
        for name, batch in (("file", 5000), ("hubspot", 100), ("webhook", 100), ("outreach", None)):
            phase("1% changed", name, batch)
        # 4. 10% changed while HubSpot answers 503 to every 20th request and starts with a 429 storm
        admin(fakes["hubspot"], "/_admin/faults", {"fail_every": 20, "storm_429": 5, "retry_after": 1})
        admin(fakes["webhook"], "/_admin/faults", {"fail_every": 20, "late_next": 3, "delay_seconds": 6})
        change(url, 0.1, ("hubspot", "webhook"), "reasons v3")
        phase("10% changed + faults", "hubspot", 100)
        phase("10% changed + faults", "webhook", 100)
        admin(fakes["hubspot"], "/_admin/reset", {})
        admin(fakes["webhook"], "/_admin/reset", {})
        # the destinations hold each lead exactly once
        state = admin(fakes["hubspot"], "/_admin/state")
        contacts = state["contacts"]
        emails = [c["properties"]["email"] for c in contacts]
        integrity = {
            "hubspot_contacts": len(contacts),
            "hubspot_duplicate_emails": len(emails) - len(set(emails)),
            "hubspot_created": state["created"],
            "webhook": {k: v for k, v in admin(fakes["webhook"], "/_admin/state").items() if k != "latest"},
            "outreach_prospects": len(admin(fakes["outreach"], "/_admin/state")["prospects"]),
        }
    finally:
        if fakes_proc is not None:
            fakes_proc.terminate()
            fakes_proc.wait(timeout=10)
        server.stop()
    total = time.monotonic() - started
    rows = []
    header = (
        f"{'phase':<22} {'dest':<9} {'planned':>8} {'changed':>8} {'requests':>8} {'floor':>6} {'retries':>7} "
        f"{'429s':>5} {'req/changed':>11} {'seconds':>8} {'req/s':>7} {'limit':>7} {'of limit':>8}"
    )
    rows.append(header)
    for p in phases:
        rows.append(
            f"{p.phase:<22} {p.destination:<9} {p.leads_planned:>8} {p.changed:>8} {p.requests:>8} "
            f"{p.floor_requests:>6} {p.retries:>7} {p.rate_limited:>5} "
            f"{(p.requests_per_changed if p.requests_per_changed is not None else '-'):>11} {p.seconds:>8.1f} "
            f"{(p.server_rps or '-'):>7} {(p.limit_rps or '-'):>7} "
            f"{(f'{p.share_of_limit:.1%}' if p.share_of_limit else '-'):>8}"
        )
    click.echo("\n".join(rows))
    click.echo(f"integrity: {json.dumps(integrity)}")
    click.echo(f"total {total:.0f}s")
    out = WORK / "sync-bench.json"
    out.write_text(
        json.dumps(
            {
                "leads": leads,
                "phases": [
                    {**asdict(p), "requests_per_changed": p.requests_per_changed, "share_of_limit": p.share_of_limit}
                    for p in phases
                ],
                "integrity": integrity,
                "seconds": total,
            },
            indent=2,
        )
    )
    click.echo(f"written {out}")


if __name__ == "__main__":
    main()
