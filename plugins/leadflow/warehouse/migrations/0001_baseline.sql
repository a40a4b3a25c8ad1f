-- The ops schema as leadflow created it before numbered migrations: every table, and every column the
-- earlier releases added in place. Written with "if not exists" throughout, so that a warehouse built by
-- any earlier release upgrades to exactly what a fresh warehouse gets.

create schema if not exists raw;
create schema if not exists ops;

-- Pull: one row per unit loaded (read = loaded + quarantined), the records refused, cursors, files read.
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

-- Learned scoring: the model cards and their points (leadflow model train / activate).
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

-- Quality: one row per run and suite; the sync sends nothing for a run without a pass.
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

-- Sync: runs, the delivery ledger (one row per lead and destination), the per-record log, dead letters.
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
-- Records whose send started and is not settled yet ("sending"). A row left behind by a killed worker
-- makes the next run re-send that record with the same idempotency key.
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

-- Sync columns added after the first release.
alter table ops.sync_runs
    add column if not exists status text,
    add column if not exists error text,
    add column if not exists removed integer not null default 0,
    add column if not exists suppressed integer not null default 0,
    add column if not exists resumed integer not null default 0,
    add column if not exists requests integer not null default 0,
    add column if not exists request_retries integer not null default 0,
    add column if not exists rate_limited integer not null default 0,
    add column if not exists details jsonb;
alter table ops.sync_ledger
    add column if not exists payload jsonb,
    add column if not exists external_state jsonb,
    add column if not exists version integer not null default 0,
    add column if not exists qualified_at timestamptz,
    -- first delivery of the lead's current qualification (qualified_at): marts.speed_to_lead.synced_at
    add column if not exists qualification_delivered_at timestamptz,
    add column if not exists removed_at timestamptz;
alter table ops.sync_dead_letter
    add column if not exists action text not null default 'upsert',
    add column if not exists email text,
    add column if not exists last_sync_run_id text;

-- ops.quarantine keeps a bad record once: a later run that reads it again (a look-back window, a changed
-- file) marks the existing row seen instead of adding another.
alter table ops.quarantine
    add column if not exists last_seen_run_id text,
    add column if not exists last_seen_at timestamptz,
    add column if not exists times_seen integer not null default 1,
    -- the input exactly as it arrived, when payload (text) could not hold it: not UTF-8, a NUL, or cut
    add column if not exists payload_bytes bytea;
-- What became of a unit's loaded records: loaded = inserted + updated + unchanged + older_than_stored.
alter table ops.load_audit
    add column if not exists inserted bigint not null default 0,
    add column if not exists updated bigint not null default 0,
    add column if not exists unchanged bigint not null default 0,
    add column if not exists older_than_stored bigint not null default 0;
-- Quality columns added after the first release.
alter table ops.quality_runs add column if not exists warnings jsonb not null default '[]'::jsonb;

create table if not exists ops.record_flags (
    source text not null,
    entity text not null,
    record_key text not null,
    flag text not null,
    location text,
    run_id text not null,
    flagged_at timestamptz not null,
    primary key (source, entity, record_key, flag)
);
comment on table ops.record_flags is
'Loaded records that a configured check flags as dirty (e.g. won before first contact): flagged, not dropped.';
create table if not exists ops.pull_windows (
    run_id text not null,
    source text not null,
    entity text not null,
    since timestamptz,
    primary key (run_id, source, entity)
);
comment on table ops.pull_windows is
'The updated-since window each run read per API / SQL entity, so that re-running a run reads the same window.';
create table if not exists ops.deferred_keys (
    source text not null,
    entity text not null,
    constraint_name text not null,
    key_columns text [] not null,
    run_id text not null,
    deferred_at timestamptz not null default now(),
    primary key (source, entity)
);
comment on table ops.deferred_keys is
'Raw tables whose primary key a first load dropped, to build it once at the end; a row left here means '
'that pull died, and the next pull of the entity rebuilds the key before it loads.';
create index if not exists quarantine_same_record on ops.quarantine
(source, entity, reason, (coalesce('k:' || record_key, 'p:' || md5(payload))));

-- leadflow profile: one JSON report per run.
create table if not exists ops.profile_runs (
    profile_id bigserial primary key,
    profiled_at timestamptz not null default now(),
    as_of timestamptz not null,
    sources_file text,
    report jsonb not null
);
comment on table ops.profile_runs is
'leadflow profile: per load, what can and cannot qualify with the settings of the time, and why.';

-- Fast lane: one row per run, and the hot-event asset events a run has processed.
create table if not exists ops.fastlane_runs (
    run_id text primary key,
    started_at timestamptz not null,
    finished_at timestamptz,
    status text not null,
    candidates integer not null,
    people integer not null default 0,
    queued integer not null default 0,
    delivered jsonb not null default '{}'::jsonb,
    seconds jsonb not null default '{}'::jsonb,
    first_detected_at timestamptz,
    error text
);
create table if not exists ops.fastlane_asset_events (
    event_id bigint primary key,
    run_id text not null,
    processed_at timestamptz not null default now()
);
