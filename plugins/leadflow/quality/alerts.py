"""Alerts when the quality gate fails: a Slack-compatible webhook when configured, always the log and ops.

Configure with ``LEADFLOW_ALERT_WEBHOOK_URL`` (or the Airflow connection ``leadflow_alerts``, whose host
is the webhook URL). The URL is a secret: it is never logged.
"""

from __future__ import annotations

import json
import logging
import os

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from leadflow.sync.connections import register_secret

log = logging.getLogger(__name__)


def alert_webhook_url() -> str | None:
    from leadflow.settings import current_settings

    url = current_settings().alert_webhook_url
    if url:
        return url.get_secret_value()
    raw = os.environ.get("AIRFLOW_CONN_LEADFLOW_ALERTS")
    if raw:
        try:
            return json.loads(raw).get("host")
        except json.JSONDecodeError:
            return raw
    return None


@retry(
    retry=retry_if_exception_type(httpx.HTTPError),
    wait=wait_exponential_jitter(multiplier=0.5, max=8),
    stop=stop_after_attempt(4),
    reraise=True,
)
def _post(url: str, body: dict) -> None:
    response = httpx.post(url, json=body, timeout=10)
    response.raise_for_status()


def send_alert(title: str, lines: list[str]) -> bool:
    """Post the alert to the configured channel; returns whether a channel accepted it."""
    text = f"*{title}*\n" + "\n".join(f"• {line}" for line in lines[:20])
    if len(lines) > 20:
        text += f"\n… and {len(lines) - 20} more"
    log.error("ALERT %s\n%s", title, "\n".join(lines))
    url = alert_webhook_url()
    if not url:
        return False
    register_secret(url)  # httpx logs every request's URL at INFO: masked there and in Airflow's task log
    try:
        _post(url, {"text": text})
    except httpx.HTTPError as err:
        log.error("alert channel did not accept the alert: %s", type(err).__name__)
        return False
    return True
