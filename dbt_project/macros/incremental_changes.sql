{#
    Incremental bookkeeping: which rows an incremental run must (re)compute, and the stamps it leaves for the
    next run. Models call these so their SQL reads as their rule; every macro renders nothing, or all keys,
    on a full build. Watermarks and load batches: macros/incremental.sql.
#}

{#
    The start of this dbt invocation: the stamp a run leaves on the rows it writes (processed_at,
    resolved_at, attributed_at, updated_at); downstream incremental models read rows written after it.
#}
{% macro run_stamp() -%}
    cast('{{ run_started_at }}' as timestamptz)
{%- endmacro %}

{#
    Condition: an upstream row stamped (`written_at`) after the latest `watermark` column this model holds,
    i.e. written since this model's last run (a literal: see watermark_literal).
#}
{% macro written_since_last_run(written_at, watermark) -%}
    {{ written_at }} > {{ watermark_literal(watermark) }}
{%- endmacro %}

{#
    The `where` clause of a CTE reading a staging view over a raw table: on an incremental run only the rows
    of load batches this model has not read (new_batch_ids) loaded within the look-back (loaded_since).
#}
{% macro where_newly_loaded(raw_relation, source_name) -%}
    {%- if is_incremental() %}
    where
        batch_id = any({{ new_batch_ids(raw_relation, source_name) }})
        and loaded_at > {{ loaded_since(source_name) }}
    {%- endif -%}
{%- endmacro %}

{#
    Keys this model holds whose rows were built with other settings (a settings_hash column, see
    settings_hash): they are recomputed, so changing such a setting needs no --full-refresh.
#}
{% macro keys_built_with_other_settings(key, current_hash) -%}
    select {{ key }} from {{ this }}
    where settings_hash <> {{ current_hash }}
{%- endmacro %}

{#
    Keys whose inputs changed: `current` (a CTE of key, hash_column) holds the fingerprint of what a key's
    result depends on now, this model the one its row was built from; a key on either side only counts too.
#}
{% macro keys_with_changed_hash(current, key, hash_column) -%}
    select coalesce({{ current }}.{{ key }}, previous.{{ key }})
    from {{ current }}
    full outer join (select distinct {{ key }}, {{ hash_column }} from {{ this }}) as previous
        on {{ current }}.{{ key }} = previous.{{ key }}
    where {{ current }}.{{ hash_column }} is distinct from previous.{{ hash_column }}
{%- endmacro %}

{#
    The as_of values rows of this model were built at, other than this run's (a built_as_of column), as
    `as_of_moves (built_as_of)`; with moved_since_built(), the events that moved into or out of the window.
#}
{% macro as_of_moves() -%}
    select distinct built_as_of
    from {{ this }}
    where built_as_of <> {{ as_of() }}
{%- endmacro %}

{# Condition: `occurred_at` lies between an as_of_moves.built_as_of and this run's as_of. #}
{% macro moved_since_built(occurred_at) -%}
    {{ occurred_at }} > least(as_of_moves.built_as_of, {{ as_of() }})
    and {{ occurred_at }} <= greatest(as_of_moves.built_as_of, {{ as_of() }})
{%- endmacro %}

{#
    Ends a model's final select: on an incremental run only rows of `relation` that are new or whose
    `columns` differ from the row this model holds for their `key` (joined as `previous`, so the select
    may read previous_value()); nothing on a full build.
#}
{% macro only_new_or_changed(relation, key, columns) -%}
    {%- if is_incremental() %}
left join {{ this }} as previous
    on {{ relation }}.{{ key }} = previous.{{ key }}
where
    previous.{{ key }} is null
    {%- if columns | length == 1 %}
    or previous.{{ columns[0] }} is distinct from {{ relation }}.{{ columns[0] }}
    {%- else %}
    or (
        {{ relation }}.{{ columns | join(', ' ~ relation ~ '.') }}
    ) is distinct from (
        previous.{{ columns | join(', previous.') }}
    )
    {%- endif %}
    {%- endif -%}
{%- endmacro %}

{# The value the row this model holds for the key had (only_new_or_changed's `previous`); null on a full build. #}
{% macro previous_value(column, data_type) -%}
    {%- if is_incremental() -%}
        previous.{{ column }}
    {%- else -%}
        cast(null as {{ data_type }})
    {%- endif -%}
{%- endmacro %}
