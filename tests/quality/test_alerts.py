"""The alert webhook URL is a secret (a Slack incoming webhook's path is its credential): never in a log line."""

from __future__ import annotations

import logging

from leadflow.quality.alerts import send_alert
from leadflow_demo.destinations_server import SlackWebhook


def test_the_alert_webhook_url_never_reaches_the_logs(monkeypatch, caplog) -> None:
    secret_path = "/services/T0ALERT/B0ALERT/alert-secret-4242"
    with SlackWebhook(0, path=secret_path) as hook:
        monkeypatch.setenv("LEADFLOW_ALERT_WEBHOOK_URL", hook.url + secret_path)
        # httpx's own logger too: another test's module may have quietened it (the whole suite runs in one process)
        with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="httpx"):
            assert send_alert("gate failed", ["marts.lead_scores.total_score out of range"])
    assert [m["text"] for m in hook.messages] == ["*gate failed*\n• marts.lead_scores.total_score out of range"]
    assert "HTTP Request: POST" in caplog.text  # httpx did log the request,
    assert "alert-secret-4242" not in caplog.text  # without the URL's secret


def test_a_busy_channel_is_retried_and_a_wrong_one_is_not(monkeypatch, caplog) -> None:
    secret_path = "/services/T0ALERT/B0ALERT/alert-secret-5353"
    with SlackWebhook(0, path=secret_path, rate_limit=None) as hook:
        hook.faults.update(fail_next=1, reset_next=1)  # a 503, then a dropped connection: both worth a retry
        monkeypatch.setenv("LEADFLOW_ALERT_WEBHOOK_URL", hook.url + secret_path)
        assert send_alert("gate failed", ["one"])
        assert [m["text"] for m in hook.messages] == ["*gate failed*\n• one"]
        monkeypatch.setenv("LEADFLOW_ALERT_WEBHOOK_URL", hook.url + "/services/T0ALERT/B0ALERT/revoked-4545")
        before = len(hook.exchanges)
        with caplog.at_level(logging.ERROR):
            assert not send_alert("gate failed", ["two"])
        assert len(hook.exchanges) == before + 1  # Slack's 404 "no_service" is an answer, not a hiccup
        assert "HTTP 404" in caplog.text and "revoked-4545" not in caplog.text
