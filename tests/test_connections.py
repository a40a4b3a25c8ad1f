"""leadflow.connections: every connection resolved in one place, and one ``redact`` for what reaches a log."""

from __future__ import annotations

import json
import logging
import os

import pytest

from leadflow.connections import (
    ConnectionMissing,
    RedactSecrets,
    alert_webhook_url,
    configured_warehouse_url,
    parse_connection,
    redact,
    register_secret,
    resolve_connection,
)
from leadflow.settings import Settings


def test_connections_from_json_and_uri(monkeypatch) -> None:
    spec = parse_connection(
        "leadflow_hubspot",
        json.dumps({"conn_type": "hubspot", "host": "api.hubapi.com", "password": "pat-secret", "extra": {"a": 1}}),
    )
    assert spec.base_url() == "https://api.hubapi.com" and spec.password == "pat-secret" and spec.extra == {"a": 1}
    assert "pat-secret" not in repr(spec)
    uri = parse_connection(
        "leadflow_outreach",
        "http://:tok%2Fen@127.0.0.1:8790?__extra__=%7B%22sequences%22%3A%20%7B%22sdr_nurture%22%3A%204%7D%7D",
    )
    assert uri.base_url() == "http://127.0.0.1:8790" and uri.password == "tok/en"
    assert uri.extra == {"sequences": {"sdr_nurture": 4}}
    plain = parse_connection("leadflow_webhook", "https://hooks.example.com/in/leadflow?hmac_secret=abc123")
    assert plain.extra == {"hmac_secret": "abc123"} and plain.schema == "in/leadflow"
    monkeypatch.delenv("AIRFLOW_CONN_LEADFLOW_NOPE", raising=False)
    with pytest.raises(ConnectionMissing, match="AIRFLOW_CONN_LEADFLOW_NOPE"):
        resolve_connection("leadflow_nope")


def test_resolving_a_connection_registers_its_secrets(monkeypatch) -> None:
    secret = "tok-registered-7731"
    monkeypatch.setenv("AIRFLOW_CONN_LEADFLOW_CRM", json.dumps({"host": "crm.example", "password": secret}))
    spec = resolve_connection("leadflow_crm")
    assert spec.base_url() == "https://crm.example"
    assert redact(f"POST https://crm.example/?token={secret}") == "POST https://crm.example/?token=***"
    assert resolve_connection("leadflow_not_there", required=False) is None


def test_redact_hides_url_passwords_and_registered_secrets() -> None:
    assert redact("postgresql://etl:s3cret@pg.internal:6000/gtm") == "postgresql://etl:***@pg.internal:6000/gtm"
    assert redact("postgresql://etl:p@ss@pg.internal/gtm") == "postgresql://etl:***@pg.internal/gtm"
    text = "from sqlite:///tmp/app.db and http://host:8080/path?x=a@b and postgresql://etl@pg/gtm"
    assert redact(text) == text  # no password: nothing to hide
    register_secret("hook-secret-5521")
    assert redact("https://hooks.example/T0/hook-secret-5521 failed; mysql://u:pw@db/x") == (
        "https://hooks.example/T0/*** failed; mysql://u:***@db/x"
    )


def test_the_log_filter_redacts_a_record_message() -> None:
    register_secret("log-secret-9917")
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, "HTTP Request: POST %s", ("/x/log-secret-9917",), None
    )
    assert RedactSecrets().filter(record) and record.getMessage() == "HTTP Request: POST /x/***"


def test_the_warehouse_is_the_explicit_url_then_pg_variables_then_the_airflow_connection(monkeypatch) -> None:
    for name in ("LEADFLOW_WAREHOUSE_URL", "PGHOST", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGPORT", "AIRFLOW_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name in [k for k in os.environ if k.startswith("AIRFLOW_CONN_")]:
        monkeypatch.delenv(name)
    assert configured_warehouse_url(Settings()) is None  # the embedded server's turn (warehouse/db.py)
    monkeypatch.setenv("AIRFLOW_CONN_LEADFLOW_WAREHOUSE", "postgres://etl:pw@pg.example:5433/gtm")
    assert configured_warehouse_url(Settings()) == "postgresql://etl:pw@pg.example:5433/gtm"
    monkeypatch.setenv("PGHOST", "pg.internal")
    monkeypatch.setenv("PGDATABASE", "gtm")
    monkeypatch.setenv("PGUSER", "etl")
    assert configured_warehouse_url(Settings()) == "postgresql://etl@pg.internal:5432/gtm"
    monkeypatch.setenv("LEADFLOW_WAREHOUSE_URL", "postgresql://u:secret@db.example:6543/wh")
    assert configured_warehouse_url(Settings()) == "postgresql://u:secret@db.example:6543/wh"


def test_the_alert_webhook_comes_from_the_setting_or_the_alerts_connection(monkeypatch) -> None:
    monkeypatch.delenv("LEADFLOW_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_LEADFLOW_ALERTS", raising=False)
    assert alert_webhook_url() is None
    monkeypatch.setenv("AIRFLOW_CONN_LEADFLOW_ALERTS", "https://hooks.example/services/T/B/raw")
    assert alert_webhook_url() == "https://hooks.example/services/T/B/raw"
    monkeypatch.setenv("AIRFLOW_CONN_LEADFLOW_ALERTS", json.dumps({"host": "https://hooks.example/services/T/B/j"}))
    assert alert_webhook_url() == "https://hooks.example/services/T/B/j"
    monkeypatch.setenv("LEADFLOW_ALERT_WEBHOOK_URL", "https://hooks.example/services/T/B/setting")
    assert alert_webhook_url() == "https://hooks.example/services/T/B/setting"
