{#
    Event-sized and incremental: one row per behavioural event from web, marketing and product,
    with the person keys it arrived with. No setting is applied here (points, categories and the
    lead a person resolves to are applied downstream), so weights change without a full refresh.
#}
{#
    person_key: the identifiers an event arrived with (email | product user id | anonymous id); the
    lead an event belongs to is resolved once per person key (int_person_leads), not per event.
    The pre-hook indexes the raw tables on _loaded_at, so an incremental run reads only new rows.
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
        ],
        pre_hook=[
            "{{ index_loaded_at(source('web', 'events')) }}",
            "{{ index_loaded_at(source('marketing', 'engagements')) }}",
            "{{ index_loaded_at(source('product', 'events')) }}",
        ],
    )
}}

with

web_events as (

    select * from {{ ref('stg_web__events') }}
    {% if is_incremental() -%}
    where loaded_at > {{ loaded_since('web') }}
    {%- endif %}

),

marketing_engagements as (

    select * from {{ ref('stg_marketing__engagements') }}
    {% if is_incremental() -%}
    where loaded_at > {{ loaded_since('marketing') }}
    {%- endif %}

),

product_events as (

    select * from {{ ref('stg_product__events') }}
    {% if is_incremental() -%}
    where loaded_at > {{ loaded_since('product') }}
    {%- endif %}

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
        loaded_at
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
        loaded_at
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
        loaded_at
    from product_events

),

unioned as (

    select * from web_signals
    union all
    select * from marketing_signals
    union all
    select * from product_signals

)

select * from unioned
