{#
    Incremental, one row per source × person key (the identifiers events arrived with): when that
    person was first and last seen there. Identity resolution (int_leads_resolved, int_lead_identities)
    reads these ~400k rows instead of every event; an incremental run folds in only newly loaded events
    (rows int_signals wrote since the latest processed_at here; min / max, so a re-read changes nothing).
#}
{{
    config(
        materialized='incremental',
        unique_key='person_source_id',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['person_source_id'], 'unique': true}, {'columns': ['processed_at']}],
    )
}}

with

signals as (

    select * from {{ ref('int_signals') }}
    {% if is_incremental() -%}
    where {{ written_since_last_run('processed_at', 'processed_at') }}
    {%- endif %}

),

aggregated as (

    select
        source || ':' || person_key as person_source_id,
        person_key,
        source,
        min(email) as email,
        min(product_user_id) as product_user_id,
        min(anonymous_id) as anonymous_id,
        min(occurred_at) as first_occurred_at,
        max(occurred_at) as last_occurred_at,
        max(loaded_at) as loaded_at,
        max(processed_at) as processed_at
    from signals
    group by source, person_key

),

{% if is_incremental() -%}
merged as (

    select
        aggregated.person_source_id,
        aggregated.person_key,
        aggregated.source,
        aggregated.email,
        aggregated.product_user_id,
        aggregated.anonymous_id,
        least(aggregated.first_occurred_at, previous.first_occurred_at) as first_occurred_at,
        greatest(aggregated.last_occurred_at, previous.last_occurred_at) as last_occurred_at,
        greatest(aggregated.loaded_at, previous.loaded_at) as loaded_at,
        greatest(aggregated.processed_at, previous.processed_at) as processed_at
    from aggregated
    left join {{ this }} as previous
        on aggregated.person_source_id = previous.person_source_id

)
{%- else -%}
merged as (

    select * from aggregated

)
{%- endif %}

select * from merged
