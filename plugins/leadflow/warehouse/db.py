"""Resolve the warehouse and connect to it (the ``ops`` schema is :mod:`leadflow.warehouse.ops`'s)."""

from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

import psycopg

from leadflow.connections import configured_warehouse_url
from leadflow.settings import Settings, current_settings, get_settings
from leadflow.warehouse.embedded import EmbeddedPostgres

log = logging.getLogger(__name__)


def embedded(settings: Settings | None = None) -> EmbeddedPostgres:
    settings = settings or get_settings()
    return EmbeddedPostgres(settings.home_dir / "pgdata", settings.embedded_port)


def warehouse_url(settings: Settings | None = None, start_embedded: bool = True) -> str:
    """The configured warehouse (``leadflow.connections``), else the embedded server (started on demand)."""
    settings = settings or get_settings()
    url = configured_warehouse_url(settings)
    if url:
        return url
    server = embedded(settings)
    return server.start() if start_embedded else server.url


def connect(url: str | None = None, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(url or warehouse_url(), autocommit=autocommit)


def dbt_env(url: str) -> dict[str, str]:
    """The LEADFLOW_PG_* variables that dbt_project/profiles.yml reads, derived from a URL."""
    parts = urlsplit(url)
    return {
        "LEADFLOW_PG_HOST": parts.hostname or "127.0.0.1",
        "LEADFLOW_PG_PORT": str(parts.port or 5432),
        "LEADFLOW_PG_USER": parts.username or "postgres",
        "LEADFLOW_PG_PASSWORD": parts.password or "",
        "LEADFLOW_PG_DATABASE": (parts.path or "/postgres").lstrip("/") or "postgres",
        # One dbt thread per core (2–4): more only queue in PostgreSQL and each holds its own work_mem.
        "LEADFLOW_DBT_THREADS": str(current_settings().dbt_threads or min(4, max(2, os.cpu_count() or 2))),
    }
