-- The ops schema as the first release (4daf5ba) created it: no sync, quarantine, audit or quality column
-- added since, no learned-scoring, pull-window, flag, profile or fast-lane table.
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
create table if not exists ops.quality_runs (
    run_id text not null,
    suite text not null,
    success boolean not null,
    evaluated integer not null,
    failed integer not null,
    details jsonb not null,
    row_counts jsonb not null default '{}'::jsonb,
    validated_at timestamptz not null default now(),
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
