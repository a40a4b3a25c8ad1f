"""Resolve the warehouse, connect to it, and keep the ``ops`` bookkeeping schema in place."""

from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

import psycopg

from leadflow.connections import configured_warehouse_url
from leadflow.settings import Settings, current_settings, get_settings
from leadflow.warehouse.embedded import EmbeddedPostgres

log = logging.getLogger(__name__)

OPS_DDL = """
create schema if not exists raw;
create schema if not exists ops;
create table if not exists ops.load_audit (
    run_id text not null,
    source text not null,
    entity text not null,
    read bigint not null,
    loaded bigint not null,
    quarantined bigint not null,
    started_at timestamptz not null,
    finished_at timestamptz not null,
    primary key (run_id, source, entity),
    check (read = loaded + quarantined)
);
create table if not exists ops.quarantine (
    quarantine_id bigserial primary key,
    run_id text not null,
    source text not null,
    entity text not null,
    location text not null,
    record_key text,
    field text,
    reason text not null,
    payload text,
    quarantined_at timestamptz not null default now()
);
create table if not exists ops.source_cursors (
    source text not null,
    entity text not null,
    cursor_value text,
    updated_at timestamptz not null default now(),
    primary key (source, entity)
);
create table if not exists ops.loaded_files (
    source text not null,
    path text not null,
    fingerprint text not null,
    run_id text not null,
    loaded_at timestamptz not null default now(),
    primary key (source, path, fingerprint)
);
create table if not exists ops.score_models (
    model_id text primary key,
    trained_at timestamptz not null,
    status text not null check (status in ('proposed', 'active', 'retired')),
    algorithm text not null,
    cutoff_scheme text not null,
    label_window_days integer not null,
    training_rows integer not null,
    training_positives integer not null,
    holdout_rows integer not null,
    holdout_positives integer not null,
    holdout_start timestamptz,
    features jsonb not null,
    intercept double precision not null,
    holdout_auc double precision,
    baseline_name text,
    baseline_holdout_auc double precision,
    top_decile_lift double precision,
    lift_by_decile jsonb,
    baseline_lift_by_decile jsonb,
    calibration_error double precision,
    calibration jsonb,
    candidates jsonb,
    threshold_probability double precision,
    threshold_rule text,
    message text,
    activated_at timestamptz,
    activated_by text,
    retired_at timestamptz
);
create table if not exists ops.score_model_points (
    model_id text not null references ops.score_models (model_id) on delete cascade,
    feature text not null,
    bin_id integer not null,
    bin_kind text not null check (bin_kind in ('missing', 'range', 'category', 'other')),
    lower_bound double precision,
    upper_bound double precision,
    category text,
    label text not null,
    points double precision not null,
    primary key (model_id, feature, bin_id)
);
create table if not exists ops.quality_runs (
    run_id text not null,
    suite text not null,
    success boolean not null,
    evaluated integer not null,
    failed integer not null,
    details jsonb not null,
    row_counts jsonb not null default '{}'::jsonb,
    validated_at timestamptz not null default now(),
    warnings jsonb not null default '[]'::jsonb,
    primary key (run_id, suite)
);
create table if not exists ops.sync_runs (
    sync_run_id text primary key,
    run_id text not null,
    destination text not null,
    dry_run boolean not null,
    planned integer not null,
    sent integer not null,
    updated integer not null,
    unchanged integer not null,
    rejected integer not null,
    retried integer not null,
    started_at timestamptz not null,
    finished_at timestamptz not null,
    duration_seconds double precision not null
);
create table if not exists ops.sync_ledger (
    lead_id text not null,
    destination text not null,
    email text not null,
    content_hash text not null,
    status text not null,
    first_delivered_at timestamptz,
    delivered_at timestamptz,
    sync_run_id text not null,
    primary key (lead_id, destination)
);
create table if not exists ops.sync_log (
    sync_run_id text not null,
    lead_id text not null,
    destination text not null,
    action text not null,
    content_hash text not null,
    detail text,
    logged_at timestamptz not null default now()
);
create table if not exists ops.sync_dead_letter (
    lead_id text not null,
    destination text not null,
    content_hash text not null,
    reason text not null,
    attempts integer not null default 1,
    first_failed_at timestamptz not null default now(),
    last_failed_at timestamptz not null default now(),
    primary key (lead_id, destination)
);
-- Sync: records whose send started and is not settled yet ("sending"). A row left behind by a killed
-- worker makes the next run re-send that record with the same idempotency key.
create table if not exists ops.sync_pending (
    lead_id text not null,
    destination text not null,
    email text not null,
    action text not null,
    content_hash text not null,
    idempotency_key text not null,
    sync_run_id text not null,
    started_at timestamptz not null default now(),
    primary key (lead_id, destination)
);
create index if not exists sync_log_lead_idx on ops.sync_log (destination, lead_id);
-- Sync columns added after the first release (added in place on existing warehouses).
do $$
declare c record;
begin
    for c in select * from (values
        ('sync_runs', 'status', 'text'),
        ('sync_runs', 'error', 'text'),
        ('sync_runs', 'removed', 'integer not null default 0'),
        ('sync_runs', 'suppressed', 'integer not null default 0'),
        ('sync_runs', 'resumed', 'integer not null default 0'),
        ('sync_runs', 'requests', 'integer not null default 0'),
        ('sync_runs', 'request_retries', 'integer not null default 0'),
        ('sync_runs', 'rate_limited', 'integer not null default 0'),
        ('sync_runs', 'details', 'jsonb'),
        ('sync_ledger', 'payload', 'jsonb'),
        ('sync_ledger', 'external_state', 'jsonb'),
        ('sync_ledger', 'version', 'integer not null default 0'),
        ('sync_ledger', 'qualified_at', 'timestamptz'),
        ('sync_ledger', 'qualification_delivered_at', 'timestamptz'),
        ('sync_ledger', 'removed_at', 'timestamptz'),
        ('sync_dead_letter', 'action', 'text not null default ''upsert'''),
        ('sync_dead_letter', 'email', 'text'),
        ('sync_dead_letter', 'last_sync_run_id', 'text')
    ) as v (tbl, col, typ)
    loop
        if not exists (
            select 1 from information_schema.columns
            where table_schema = 'ops' and table_name = c.tbl and column_name = c.col
        ) then
            execute format('alter table ops.%I add column %I %s', c.tbl, c.col, c.typ);
        end if;
    end loop;
end
$$;
"""


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


def ensure_ops_schema(conn: psycopg.Connection) -> None:
    with conn.transaction():
        # Serialise concurrent first runs (parallel pull tasks) creating the same objects.
        conn.execute("select pg_advisory_xact_lock(hashtext('leadflow.ops_schema'))")
        conn.execute(OPS_DDL)


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
