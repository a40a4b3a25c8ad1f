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
