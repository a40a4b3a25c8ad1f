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
    An index on a raw table's _loaded_at, so incremental models read only newly loaded rows instead of
    scanning the table (created once, by the first run that needs it; the loader's DDL is left alone).
#}
{% macro index_loaded_at(relation) -%}
    create index if not exists {{ relation.identifier }}__loaded_at_idx on {{ relation }} (_loaded_at)
{%- endmacro %}

{# The latest loaded_at an incremental model already holds, minus the look-back (var incremental_lookback_hours). #}
{% macro loaded_watermark(column='loaded_at', where=none) -%}
    (
        select coalesce(max({{ column }}), '-infinity'::timestamptz)
            - interval '1 hour' * {{ var('incremental_lookback_hours') }}
        from {{ this }}
        {%- if where %}
        where {{ where }}
        {%- endif %}
    )
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
#}
{% macro analyze_after_build() -%}
    {%- if config.get('materialized') == 'view' or (config.get('materialized') == 'incremental' and is_incremental()) -%}
        select 1
    {%- else -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
