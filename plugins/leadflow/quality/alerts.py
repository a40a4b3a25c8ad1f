"""Alerts when the quality gate fails: a Slack-compatible webhook when configured, always the log and ops.

Configure with ``LEADFLOW_ALERT_WEBHOOK_URL`` (or the Airflow connection ``leadflow_alerts``, whose host
is the webhook URL; see ``leadflow.connections``). The URL is a secret: it is never logged.
"""

from __future__ import annotations

import logging

from leadflow import slack
from leadflow.connections import alert_webhook_url, register_secret
from leadflow.http import HttpSender, RetryPolicy, ServiceError

log = logging.getLogger(__name__)

# A few quick tries: the gate has failed already and the run must not wait long on the alert channel.
RETRY = RetryPolicy(max_attempts=4, base_seconds=0.5, max_backoff_seconds=8.0, timeout_seconds=10.0)


def send_alert(title: str, lines: list[str]) -> bool:
    """Post the alert to the configured channel; returns whether a channel accepted it."""
    log.error("ALERT %s\n%s", title, "\n".join(lines))
    url = alert_webhook_url()
    if not url:
        return False
    register_secret(url)  # httpx logs every request's URL at INFO: masked there and in Airflow's task log
    sender = HttpSender("alert channel", "", retry=RETRY)
    try:
        response = sender.request("POST", url, json_body=slack.message(slack.bulleted(title, lines)))
    except ServiceError as err:  # its message names the channel's answer, never the URL
        log.error("alert channel did not accept the alert: %s", err)
        return False
    finally:
        sender.close()
    if not response.is_success:
        log.error("alert channel did not accept the alert: HTTP %s", response.status_code)
        return False
    return True
