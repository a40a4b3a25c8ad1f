{#
    Current funnel stage per lead and when it was entered, first match wins:
    customer > disqualified (competitor) > suppressed > opportunity (open) > the primary qualification
    type > closed_lost > engaged (any scored activity) > new. Snapshotted by snapshots/lead_stages.yml.
#}
with

leads as (

    select * from {{ ref('int_leads_resolved') }}

),

exclusions as (

    select * from {{ ref('int_lead_exclusions') }}

),

qualified as (

    select * from {{ ref('int_leads_qualified') }}

),

opportunities as (

    select
        lead_id,
        max(created_at) filter (where not is_closed) as open_opportunity_created_at,
        max(closed_at) filter (where is_closed and not is_won) as last_lost_at
    from {{ ref('int_opportunities_resolved') }}
    where lead_id is not null
    group by lead_id

),

activity as (

    select
        lead_id,
        min(first_occurred_at) as first_active_at
    from {{ ref('int_score_contributions') }}
    where category <> 'fit'
    group by lead_id

),

final as (

    select
        leads.lead_id,
        case
            when exclusions.is_customer then 'customer'
            when exclusions.is_competitor then 'disqualified'
            when exclusions.is_suppressed then 'suppressed'
            when opportunities.open_opportunity_created_at is not null then 'opportunity'
            when qualified.primary_type is not null then qualified.primary_type
            when opportunities.last_lost_at is not null then 'closed_lost'
            when activity.first_active_at is not null then 'engaged'
            else 'new'
        end as current_stage,
        case
            when exclusions.is_customer then exclusions.first_won_at
            when exclusions.is_competitor or exclusions.is_suppressed then exclusions.first_suppressed_at
            when opportunities.open_opportunity_created_at is not null then opportunities.open_opportunity_created_at
            when qualified.primary_type is not null then qualified.qualifying_event_at
            when opportunities.last_lost_at is not null then opportunities.last_lost_at
            when activity.first_active_at is not null then activity.first_active_at
            else leads.created_at
        end as stage_entered_at
    from leads
    left join exclusions
        on leads.lead_id = exclusions.lead_id
    left join qualified
        on leads.lead_id = qualified.lead_id
    left join opportunities
        on leads.lead_id = opportunities.lead_id
    left join activity
        on leads.lead_id = activity.lead_id

)

select * from final
