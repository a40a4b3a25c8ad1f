{#
    Incremental filter bound for one source in an event-sized model: rows loaded after the latest
    `loaded_at` already in the model for that source, minus a look-back for late or re-loaded rows.
#}
{% macro loaded_since(source_name) -%}
    (
        select coalesce(max(loaded_at), '-infinity'::timestamptz)
            - interval '1 hour' * {{ var('incremental_lookback_hours') }}
        from {{ this }}
        where source = '{{ source_name }}'
    )
{%- endmacro %}

{#
    The identifiers an event arrived with, as one key: email | product user id | anonymous id.
    Events sharing a key always resolve to the same lead (see int_person_leads).
#}
{% macro person_key(email, product_user_id, anonymous_id) -%}
    coalesce({{ email }}, '') || '|' || coalesce({{ product_user_id }}, '') || '|' || coalesce({{ anonymous_id }}, '')
{%- endmacro %}

{#
    An index on a raw table's (_batch_id, _loaded_at), so incremental models find load batches they have
    not read and read only their rows instead of scanning the table (created once, by the first run that
    needs it; the loader's DDL is left alone; an existing index is detected without locking the table).
#}
{% macro index_batches(relation) -%}
    {%- set index_name = relation.identifier ~ '__batch_loaded_idx' -%}
    -- look first: CREATE INDEX IF NOT EXISTS takes a share lock, i.e. waits behind a running load
    do $$
    begin
        if to_regclass('{{ relation.schema }}.{{ index_name }}') is null then
            create index {{ index_name }} on {{ relation }} (_batch_id, _loaded_at);
        end if;
    end
    $$
{%- endmacro %}

{#
    Load batches of a raw table that this incremental model has not read yet, as one array (rows of
    `source_name` in {{ this }} carry batch_id): `batch_id = any({{ new_batch_ids(...) }})`; an array,
    not a subquery, so the planner probes the index once per batch. Distinct batch ids come from a loose index scan (one index probe per
    batch), so the cost follows the number of batches, not of rows.
#}
{% macro new_batch_ids(raw_relation, source_name) -%}
    cast((
        with recursive batches as (
            (
                select raw_rows._batch_id as batch_id
                from {{ raw_relation }} as raw_rows
                where raw_rows._batch_id is not null
                order by raw_rows._batch_id
                limit 1
            )
            union all
            select (
                select raw_rows._batch_id
                from {{ raw_relation }} as raw_rows
                where raw_rows._batch_id > batches.batch_id
                order by raw_rows._batch_id
                limit 1
            )
            from batches
            where batches.batch_id is not null
        )

        select array_agg(batches.batch_id) as batch_ids
        from batches
        where
            batches.batch_id is not null
            and not exists (
                select 1
                from {{ this }} as seen
                where seen.batch_id = batches.batch_id and seen.source = '{{ source_name }}'
            )
    ) as text[])
{%- endmacro %}

{#
    The latest value of `column` in this incremental model (e.g. the int_signals.processed_at it has
    read), as a literal read when the model runs: with a literal the planner sees from the statistics
    that few rows follow it and uses the index, where a subquery would make it guess a third of the table.
#}
{% macro watermark_literal(column) -%}
    {%- if execute and not lint_incremental() -%}
        {{- ensure_watermark_index(column) -}}
        {%- set result = run_query(
            "select coalesce(max(" ~ column ~ "), '-infinity'::timestamptz)::text from " ~ this
        ) -%}
        cast('{{ result.columns[0].values()[0] }}' as timestamptz)
    {%- else -%}
        (select coalesce(max({{ column }}), '-infinity'::timestamptz) from {{ this }})
    {%- endif -%}
{%- endmacro %}

{#
    max(column) must not scan an event-sized table every run (1.1 s on 3.8 M rows of int_lead_events):
    models declare an index on their watermark column, and a warehouse built before they did gets one here,
    on its first incremental run (once; nothing is done when an index already leads with that column).
#}
{% macro ensure_watermark_index(column) -%}
    {%- call statement('ensure_watermark_index') -%}
        do $$
        begin
            if not exists (
                select 1
                from pg_index as i
                inner join pg_attribute as a
                    on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
                where i.indrelid = '{{ this }}'::regclass and a.attname = '{{ column }}'
            ) then
                execute 'create index on {{ this }} ({{ column }})';
            end if;
        end
        $$
    {%- endcall -%}
{%- endmacro %}

{#
    A fingerprint of the settings an incremental model bakes into its rows (a list of var names).
    Rows carry it; rows whose fingerprint differs from the current one are recomputed on the next run,
    so changing such a setting needs no --full-refresh.
#}
{% macro settings_hash(var_names) -%}
    {%- set values = {} -%}
    {%- for name in var_names -%}
        {%- do values.update({name: var(name)}) -%}
    {%- endfor -%}
    '{{ local_md5(tojson(values, sort_keys=true)) }}'
{%- endmacro %}

{# Growth of an event at `occurred_at`: 2 ^ ((occurred_at - decay_epoch) / half-life), as of no particular moment. #}
{% macro decay_growth(occurred_at) -%}
    power(
        2::double precision,
        extract(epoch from ({{ occurred_at }} - cast('{{ var('decay_epoch') }}' as timestamptz)))::double precision
        / (86400.0 * {{ var('decay_half_life_days') }})
    )
{%- endmacro %}

{# Decay from decay_epoch to as_of: growth x this = 0.5 ^ (age at as_of / half-life). #}
{% macro decay_to_as_of() -%}
    power(
        0.5::double precision,
        extract(epoch from ({{ as_of() }} - cast('{{ var('decay_epoch') }}' as timestamptz)))::double precision
        / (86400.0 * {{ var('decay_half_life_days') }})
    )
{%- endmacro %}

{#
    Project-wide post-hook: fresh statistics after a table is (re)built, so the next model's planner sees
    real row counts. Views have none, and an incremental run that added a few rows keeps the statistics.
    Tables rebuilt every run (lead-sized) sample var('rebuilt_table_statistics_target') rows x 300 instead
    of PostgreSQL's default 100 x 300: their joins are on unique keys, and the default sample made ANALYZE
    ~10% of an incremental run (0.6 s on leads at 100k leads; 0.06 s at 10). Event-sized incremental
    tables keep the default when they are built.
#}
{% macro analyze_after_build() -%}
    {%- set materialized = config.get('materialized') -%}
    {%- if materialized == 'view' or (materialized == 'incremental' and is_incremental()) -%}
        select 1
    {%- else -%}
        {%- if materialized == 'table' %}
        set local default_statistics_target = {{ var('rebuilt_table_statistics_target') }};
        {% endif -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
