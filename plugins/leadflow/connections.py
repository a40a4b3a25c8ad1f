"""Every connection leadflow makes, resolved in one place, and the secrets they carry kept out of logs.

Entry points: ``resolve_connection`` (the Airflow connection ``leadflow_<name>`` of a destination or other
API), ``configured_warehouse_url`` (the warehouse), ``alert_webhook_url`` (quality alerts). Secrets are
registered with ``register_secret``: masked in Airflow's task logs and redacted from ``httpx`` log lines
(a Slack webhook URL *is* a secret); ``ConnectionSpec``'s ``repr`` never shows them. ``redact`` is the one
way to make a text safe to log or store. Where this sits among the layers: docs/architecture.md; the
connections users define: docs/sync.md and docs/data-quality.md.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from leadflow.settings import Settings, current_settings

log = logging.getLogger(__name__)

SECRET_EXTRA_KEYS = ("secret", "token", "password", "key", "webhook_url", "hmac")


class ConnectionMissing(LookupError):
    """No connection is configured for a destination."""


@dataclass(frozen=True)
class ConnectionSpec:
    conn_id: str
    conn_type: str | None = None
    host: str | None = None
    login: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    schema: str | None = None
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def base_url(self, default: str | None = None) -> str:
        """``scheme://host[:port][/path]`` without a trailing slash.

        ``host`` may already be a URL; otherwise the scheme comes from ``extra.scheme``, then
        ``schema``/``conn_type`` when they say http or https, then https.
        """
        host = (self.host or "").strip()
        if not host:
            if default is None:
                raise ConnectionMissing(f"connection {self.conn_id} has no host")
            return default.rstrip("/")
        if "://" in host:
            url = host
        else:
            scheme = self.extra.get("scheme")
            for candidate in (self.schema, self.conn_type):
                if not scheme and candidate in ("http", "https"):
                    scheme = candidate
            url = f"{scheme or 'https'}://{host}"
        if self.port and urlsplit(url).port is None:
            parts = urlsplit(url)
            url = parts._replace(netloc=f"{parts.netloc}:{self.port}").geturl()
        return url.rstrip("/")

    def secrets(self) -> list[str]:
        """What ``register_secret`` masks: the password and every extra value whose key looks like a secret."""
        values = [self.password]
        values += [str(v) for k, v in self.extra.items() if any(s in k.lower() for s in SECRET_EXTRA_KEYS)]
        return [v for v in values if v and len(v) >= 4]


def _env_name(conn_id: str) -> str:
    return "AIRFLOW_CONN_" + conn_id.upper()


def parse_connection(conn_id: str, value: str) -> ConnectionSpec:
    """An ``AIRFLOW_CONN_*`` value (JSON or URI) as a :class:`ConnectionSpec`."""
    value = value.strip()
    if value.startswith("{"):
        data = json.loads(value)
        extra = data.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra) if extra.strip() else {}
        port = data.get("port")
        return ConnectionSpec(
            conn_id,
            data.get("conn_type"),
            data.get("host"),
            data.get("login"),
            data.get("password"),
            data.get("schema"),
            int(port) if port not in (None, "") else None,
            dict(extra),
        )
    parts = urlsplit(value)
    extra: dict[str, Any] = {}
    for key, val in parse_qsl(parts.query, keep_blank_values=True):
        if key == "__extra__":
            extra.update(json.loads(val))
        else:
            extra[key] = val
    conn_type = parts.scheme.replace("-", "_") or None
    host = unquote(parts.hostname) if parts.hostname else None
    # Airflow URIs put "scheme://host" in the host when it is url-encoded (http%3A%2F%2Fhost).
    if host and "%3a%2f%2f" in (parts.netloc or "").lower():
        host = unquote(parts.netloc.rsplit("@", 1)[-1])
    path = unquote(parts.path.lstrip("/")) or None
    return ConnectionSpec(
        conn_id,
        conn_type,
        host,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
        path,
        parts.port,
        extra,
    )


def _airflow_store(conn_id: str):
    """The connection as Airflow's ``Connection.get`` finds it, or None (not defined, or no Airflow context)."""
    try:
        from airflow.sdk import Connection

        return Connection.get(conn_id)
    except Exception:
        return None


def _from_airflow(conn_id: str) -> ConnectionSpec | None:
    """Airflow's connection store — only when Airflow is already loaded (a task), never imported for it."""
    if "airflow.sdk" not in sys.modules:
        return None
    conn = _airflow_store(conn_id)
    if conn is None:
        return None
    extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
    return ConnectionSpec(
        conn_id, conn.conn_type, conn.host, conn.login, conn.password, conn.schema, conn.port, dict(extra or {})
    )


def resolve_connection(conn_id: str, required: bool = True) -> ConnectionSpec | None:
    """The connection ``conn_id``, its secrets registered; from, in order:

    1. the environment variable ``AIRFLOW_CONN_<CONN_ID>`` (Airflow's own convention, so the same variable
       works inside a task, in the CLI and in tests), as JSON (``{"conn_type": "http", "host": "...",
       "password": "...", "extra": {...}}``) or as a URI (``https://:token@api.example.com?__extra__=<json>``
       or plain ``?key=value`` extras);
    2. Airflow's connection store (``airflow.sdk.Connection.get``), when running inside Airflow.
    """
    value = os.environ.get(_env_name(conn_id))
    spec = parse_connection(conn_id, value) if value else _from_airflow(conn_id)
    if spec is None:
        if required:
            raise ConnectionMissing(
                f"no Airflow connection {conn_id!r}: define it in Airflow or set {_env_name(conn_id)} "
                "(JSON or URI; see docs/sync.md)"
            )
        return None
    for secret in spec.secrets():
        register_secret(secret)
    return spec


# --- the warehouse ----------------------------------------------------------------------------------

WAREHOUSE_CONN_ID = "leadflow_warehouse"


def env_pg_url() -> str | None:
    """A URL built from the standard libpq PG* variables, when PGHOST or PGDATABASE is set."""
    if not (os.environ.get("PGHOST") or os.environ.get("PGDATABASE")):
        return None
    from sqlalchemy.engine import URL

    return URL.create(
        "postgresql",
        username=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD"),
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=int(os.environ.get("PGPORT", "5432")),
        database=os.environ.get("PGDATABASE", "postgres"),
    ).render_as_string(hide_password=False)


def _airflow_warehouse_url() -> str | None:
    """The Airflow connection ``leadflow_warehouse``, when Airflow can resolve one."""
    if not any(k.startswith("AIRFLOW_CONN_") for k in os.environ) and "AIRFLOW_HOME" not in os.environ:
        return None
    conn = _airflow_store(WAREHOUSE_CONN_ID)
    return conn.get_uri().replace("postgres://", "postgresql://", 1) if conn is not None else None


def configured_warehouse_url(settings: Settings) -> str | None:
    """``LEADFLOW_WAREHOUSE_URL`` > PG* variables > the Airflow connection ``leadflow_warehouse``; None means
    none is configured (then ``warehouse/db.py`` starts the embedded server)."""
    return settings.warehouse_url or env_pg_url() or _airflow_warehouse_url()


# --- the quality alert webhook ----------------------------------------------------------------------


def alert_webhook_url() -> str | None:
    """``LEADFLOW_ALERT_WEBHOOK_URL``, else the connection ``leadflow_alerts`` (JSON whose host is the URL, or the URL)."""
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


# --- keeping secrets out of logs -------------------------------------------------------------------

_SECRETS: set[str] = set()
_LOCK = threading.Lock()


class RedactSecrets(logging.Filter):
    """Replaces every registered secret in a log record's message with ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _SECRETS:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_FILTER = RedactSecrets()


# The password of a URL (``scheme://user:password@host``): up to the netloc's last "@", as urlsplit reads it.
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/?#@\s:]*:)[^/?#\s]+(?=@)", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every registered secret and every URL's password replaced by ``***``."""
    text = _URL_PASSWORD.sub(r"\1***", text)
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def register_secret(secret: str) -> None:
    """Mask ``secret`` in Airflow task logs and in the HTTP libraries' log lines."""
    if not secret:
        return
    with _LOCK:
        _SECRETS.add(secret)
        for name in ("httpx", "httpcore", "httpcore.http11", "httpcore.connection", "httpcore.http2"):
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
    if "airflow.sdk" in sys.modules:
        try:
            from airflow.sdk.log import mask_secret

            mask_secret(secret)
        except Exception:  # masking is best effort outside a task
            log.debug("Airflow secret masking unavailable")
