"""Credentials never show up in logs, in the ops tables or in error messages — even when things go wrong."""

from __future__ import annotations

import json
import logging

import psycopg
import pytest

from leadflow.sync.engine import SyncFailed, run_sync
from tests.sync.conftest import lead, make_queue, use_destinations

ALL = ("file", "hubspot", "outreach", "slack", "webhook")


def secrets_of(servers) -> list[str]:
    return [servers.token, servers.webhook_secret, servers.slack.path.rsplit("/", 1)[-1], servers.slack.path]


def ops_text(url: str) -> str:
    with psycopg.connect(url) as conn:
        rows = []
        for table in ("sync_log", "sync_runs", "sync_dead_letter", "sync_ledger", "sync_pending"):
            rows += conn.execute(f"select to_jsonb(t)::text from ops.{table} as t").fetchall()
    return "\n".join(r[0] for r in rows)


def test_tokens_never_reach_logs_tables_or_errors(sync_env, monkeypatch, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    # Airflow's logging setup (imported by other tests in the same session) may disable or detach
    # library loggers; this test needs httpx's request lines to prove they are redacted.
    for name in ("httpx", "leadflow"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
    caplog.set_level(logging.DEBUG, logger="httpx")
    servers = sync_env["servers"]
    leads = [lead(i) for i in range(12)]
    make_queue(sync_env["url"], leads, ALL)
    # retries, rate limits, rejects and timeouts: every path that writes a log line or a reason
    servers.hubspot.faults.update(storm_429=2, retry_after=0.05, fail_next=1)
    servers.outreach.faults.update(reject_emails={leads[4]["email"]: "invalid owner"}, reset_next=1)
    servers.slack.faults.update(fail_next=1, reject_emails={leads[8]["email"]: "invalid_blocks"})
    servers.webhook.faults.update(drop_next=1, delay_seconds=0.8)
    run_sync("ok")
    # wrong credentials everywhere: the errors quote the destination's answer, never what we sent
    for key in ("AIRFLOW_CONN_LEADFLOW_HUBSPOT", "AIRFLOW_CONN_LEADFLOW_OUTREACH"):
        conn = json.loads(servers.connections()[key])
        conn["password"] = "wrong-" + servers.token
        monkeypatch.setenv(key, json.dumps(conn))
    make_queue(sync_env["url"], [dict(r, title="CEO") for r in leads], ALL)
    with pytest.raises(SyncFailed) as failed:
        run_sync("ok")
    assert "401" in str(failed.value)
    logged = caplog.text + capsys.readouterr().err
    assert "HTTP Request: POST" in logged  # httpx did log its requests...
    stored = ops_text(sync_env["url"])
    for secret in secrets_of(servers):
        assert secret not in logged, f"secret in logs: {secret}"  # ...without the Slack webhook's secret path
        assert secret not in stored, f"secret in ops tables: {secret}"
        assert secret not in str(failed.value)
        assert all(secret not in (r.error or "") for r in failed.value.reports)


def test_connection_repr_hides_secrets(sync_env) -> None:
    from leadflow.connections import resolve_connection

    spec = resolve_connection("leadflow_slack")
    assert "demo-secret" not in repr(spec) and "demo-secret" not in str(spec)
    use_destinations  # noqa: B018 - imported for the fixtures' module
