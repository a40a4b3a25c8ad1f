{#
    Event-sized and incremental: one row per behavioural event from web, marketing and product,
    with the person keys it arrived with. No setting is applied here (points, categories and the
    lead a person resolves to are applied downstream), so weights change without a full refresh.
#}
{#
    person_key: the identifiers an event arrived with (email | product user id | anonymous id); the
    lead an event belongs to is resolved once per person key (int_person_leads), not per event.
    Incremental read: the raw rows of load batches (_batch_id) not yet in this table, among batches
    loaded after the latest loaded_at it holds minus var incremental_lookback_hours (a load that began
    before the last run and committed after it). A pre-hook indexes the raw tables on
    (_batch_id, _loaded_at), so finding those batches and their rows never scans a raw table.
    processed_at (the run that wrote a row) is what the downstream incremental models follow.
    The workspace and product user indexes let int_workspace_activation read only the events of the
    workspaces it recomputes.
#}
{{
    config(
        materialized='incremental',
        unique_key='signal_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['signal_id'], 'unique': true},
            {'columns': ['source', 'loaded_at']},
            {'columns': ['batch_id']},
            {'columns': ['processed_at']},
            {'columns': ['workspace_id']},
            {'columns': ['product_user_id']},
        ],
        pre_hook=[
            "{{ index_batches(source('web', 'events')) }}",
            "{{ index_batches(source('marketing', 'engagements')) }}",
            "{{ index_batches(source('product', 'events')) }}",
        ],
    )
}}

with

web_events as (

    select * from {{ ref('stg_web__events') }}
    {{ where_newly_loaded(source('web', 'events'), 'web') }}

),

marketing_engagements as (

    select * from {{ ref('stg_marketing__engagements') }}
    {{ where_newly_loaded(source('marketing', 'engagements'), 'marketing') }}

),

product_events as (

    select * from {{ ref('stg_product__events') }}
    {{ where_newly_loaded(source('product', 'events'), 'product') }}

),

web_signals as (

    select
        'web:' || event_id as signal_id,
        'web' as source,
        event_id as source_event_id,
        {{ person_key('email', 'user_id', 'anonymous_id') }} as person_key,
        email,
        anonymous_id,
        user_id as product_user_id,
        cast(null as text) as workspace_id,
        event_type as signal_name,
        page_path as signal_detail,
        occurred_at,
        loaded_at,
        batch_id
    from web_events

),

marketing_signals as (

    select
        'marketing:' || engagement_id as signal_id,
        'marketing' as source,
        engagement_id as source_event_id,
        {{ person_key('email', 'null', 'null') }} as person_key,
        email,
        cast(null as text) as anonymous_id,
        cast(null as text) as product_user_id,
        cast(null as text) as workspace_id,
        action as signal_name,
        asset_name as signal_detail,
        occurred_at,
        loaded_at,
        batch_id
    from marketing_engagements

),

product_signals as (

    select
        'product:' || event_id as signal_id,
        'product' as source,
        event_id as source_event_id,
        {{ person_key('null', 'user_id', 'null') }} as person_key,
        cast(null as text) as email,
        cast(null as text) as anonymous_id,
        user_id as product_user_id,
        workspace_id,
        event_name as signal_name,
        feature_name as signal_detail,
        occurred_at,
        loaded_at,
        batch_id
    from product_events

),

unioned as (

    select * from web_signals
    union all
    select * from marketing_signals
    union all
    select * from product_signals

)

select
    *,
    {{ run_stamp() }} as processed_at
from unioned
