{#
    Dirty records flagged by the pull (ops.record_flags). The pull creates that table on its first run
    with flags; before that this view is empty with the same columns, so a fresh warehouse still builds.
#}
{%- set flags_relation = adapter.get_relation(
    database=source('ops', 'record_flags').database,
    schema=source('ops', 'record_flags').schema,
    identifier=source('ops', 'record_flags').identifier,
) if execute else none %}

with

{% if flags_relation is not none -%}
source as (

    select * from {{ source('ops', 'record_flags') }}

),
{%- else -%}
source as (

    select
        cast(null as text) as source,
        cast(null as text) as entity,
        cast(null as text) as record_key,
        cast(null as text) as flag,
        cast(null as text) as location,  -- noqa: RF04
        cast(null as text) as run_id,
        cast(null as timestamptz) as flagged_at
    where false

),
{%- endif %}

renamed as (

    select
        -- ids
        source || ':' || entity || ':' || record_key || ':' || flag as record_flag_id,
        record_key,

        -- strings
        source,
        entity,
        flag,
        location,
        run_id,

        -- timestamps
        flagged_at

    from source

)

select * from renamed
