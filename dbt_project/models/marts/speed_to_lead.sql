{#
    Speed to lead per qualified lead: the qualifying event, its SLA due time, when the sync first
    delivered that qualification to any destination and the CRM's first sales touch. is_sla_met is null
    while the lead has not been touched and the SLA is not yet due.

    A view: synced_at is read from the sync's ledger (ops.sync_ledger) when queried, so a delivery shows
    as soon as the sync has settled it, without a dbt build; the sync itself writes only ops.
#}
{{ config(materialized='view') }}

with

qualified as (

    select * from {{ ref('qualified_leads') }}

),

leads as (

    select * from {{ ref('leads') }}

),

-- first delivery of each qualification (a lead qualifying again at a new time is delivered again)
deliveries as (

    select
        lead_id,
        qualified_at,
        min(qualification_delivered_at) as synced_at
    from {{ ref('stg_ops__sync_deliveries') }}
    group by lead_id, qualified_at

),

final as (

    select
        -- ids
        qualified.lead_id,

        -- strings
        qualified.primary_type,

        -- numerics
        cast(
            round(cast(extract(epoch from leads.first_touch_at - qualified.qualifying_event_at) / 60 as numeric), 1)
            as numeric(14, 1)
        ) as minutes_to_first_touch,
        cast(
            round(cast(extract(epoch from deliveries.synced_at - qualified.qualifying_event_at) / 60 as numeric), 1)
            as numeric(14, 1)
        ) as minutes_to_sync,

        -- booleans
        case
            when leads.first_touch_at is not null then leads.first_touch_at <= qualified.sla_due_at
            when {{ as_of() }} > qualified.sla_due_at then false
        end as is_sla_met,

        -- timestamps
        qualified.qualifying_event_at,
        qualified.sla_due_at,
        deliveries.synced_at,
        leads.first_touch_at

    from qualified
    inner join leads
        on qualified.lead_id = leads.lead_id
    left join deliveries
        on
            qualified.lead_id = deliveries.lead_id
            and date_trunc('second', qualified.qualifying_event_at) = deliveries.qualified_at

)

select * from final
