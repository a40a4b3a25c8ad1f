{#
    Daily funnel per qualification type (and 'any') and lead source (origin): leads that first qualified
    that day, how many of them won an opportunity within the type's conversion window (var
    conversion_window_days), days from lead creation to qualifying and from qualifying to won, new leads
    of the day and how many of them became customers (the true lead-to-customer conversion by origin),
    and the share of leads whose qualifying event fell that day that the sync delivered inside their SLA
    (speed_to_lead; for conversion_qualified, the share of hot leads inside SLA).
    Days are UTC dates, from the first lead, qualification or win to the as_of date.
#}
{%- set types = var('qualification_type_precedence') + ['any'] %}

with

leads as (

    select
        lead_id,
        created_at,
        coalesce(lead_source, '{{ var("funnel_unknown_lead_source") }}') as lead_source
    from {{ ref('int_leads_resolved') }}

),

speed_to_lead as (

    select * from {{ ref('speed_to_lead') }}

),

lead_sources as (

    select distinct lead_source from leads

),

hits as (

    select * from {{ ref('int_rule_hits') }}

),

wins as (

    select
        lead_id,
        min(won_at) as won_at
    from {{ ref('int_opportunities_resolved') }}
    where is_won and lead_id is not null
    group by lead_id

),

types as (

    select *
    from (
        values
        {%- for type_name in types %}
        ('{{ type_name }}'){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as types (qualification_type)

),

first_qualified as (

    select
        lead_id,
        qualification_type,
        min(first_qualified_at) as first_qualified_at
    from hits
    group by lead_id, qualification_type

    union all

    select
        lead_id,
        'any' as qualification_type,
        min(first_qualified_at) as first_qualified_at
    from hits
    group by lead_id

),

qualified_outcomes as (

    select
        first_qualified.qualification_type,
        leads.lead_source,
        cast(first_qualified.first_qualified_at at time zone 'UTC' as date) as qualified_on,
        first_qualified.first_qualified_at,
        leads.created_at,
        wins.won_at,
        wins.won_at >= first_qualified.first_qualified_at as is_won_after_qualifying,
        coalesce(
            wins.won_at between first_qualified.first_qualified_at
            and first_qualified.first_qualified_at
            + interval '1 day'
            * {{ case_by_type('first_qualified.qualification_type', var('conversion_window_days'), 'integer') }},
            false
        ) as is_converted
    from first_qualified
    inner join leads
        on first_qualified.lead_id = leads.lead_id
    left join wins
        on first_qualified.lead_id = wins.lead_id

),

qualified_by_day as (

    select
        qualification_type,
        lead_source,
        qualified_on as funnel_day,
        count(*) as new_qualified_leads,
        count(*) filter (where is_converted) as converted_leads,
        avg(greatest(0, extract(epoch from first_qualified_at - created_at) / 86400)) as avg_days_to_qualify,
        avg(extract(epoch from won_at - first_qualified_at) / 86400) filter (where is_converted) as avg_days_to_won
    from qualified_outcomes
    group by qualification_type, lead_source, qualified_on

),

won_by_day as (

    select
        qualification_type,
        lead_source,
        cast(won_at at time zone 'UTC' as date) as funnel_day,
        count(*) as won_leads
    from qualified_outcomes
    where is_won_after_qualifying
    group by qualification_type, lead_source, cast(won_at at time zone 'UTC' as date)

),

new_leads_by_day as (

    select
        leads.lead_source,
        cast(leads.created_at at time zone 'UTC' as date) as funnel_day,
        count(*) as new_leads,
        count(wins.lead_id) as new_leads_won,
        avg(extract(epoch from wins.won_at - leads.created_at) / 86400) as new_leads_avg_days_to_won
    from leads
    left join wins
        on leads.lead_id = wins.lead_id
    group by leads.lead_source, cast(leads.created_at at time zone 'UTC' as date)

),

-- leads whose SLA outcome is known: delivered, or not delivered and already past due
sla_outcomes as (

    select
        speed_to_lead.primary_type,
        leads.lead_source,
        cast(speed_to_lead.qualifying_event_at at time zone 'UTC' as date) as funnel_day,
        coalesce(speed_to_lead.synced_at <= speed_to_lead.sla_due_at, false) as is_delivered_in_sla
    from speed_to_lead
    inner join leads
        on speed_to_lead.lead_id = leads.lead_id
    where
        speed_to_lead.synced_at is not null
        or speed_to_lead.sla_due_at < {{ as_of() }}

),

sla_by_day as (

    select
        primary_type as qualification_type,
        lead_source,
        funnel_day,
        count(*) as sla_leads,
        count(*) filter (where is_delivered_in_sla) as delivered_in_sla_leads
    from sla_outcomes
    group by primary_type, lead_source, funnel_day

    union all

    select
        'any' as qualification_type,
        lead_source,
        funnel_day,
        count(*) as sla_leads,
        count(*) filter (where is_delivered_in_sla) as delivered_in_sla_leads
    from sla_outcomes
    group by lead_source, funnel_day

),

day_bounds as (

    select
        least(
            (select min(qualified_on) from qualified_outcomes),
            (select min(cast(won_at at time zone 'UTC' as date)) from wins),
            (select min(funnel_day) from new_leads_by_day)
        ) as first_day,
        cast({{ as_of() }} at time zone 'UTC' as date) as last_day

),

days as (

    select cast(spine.funnel_day as date) as funnel_day
    from day_bounds
    cross join
        lateral generate_series(day_bounds.first_day, day_bounds.last_day, interval '1 day')
            as spine (funnel_day)
    where day_bounds.first_day is not null

),

final as (

    select
        -- ids
        types.qualification_type || ':' || lead_sources.lead_source || ':' || days.funnel_day as funnel_day_id,

        -- strings
        types.qualification_type,
        lead_sources.lead_source,

        -- numerics
        coalesce(new_leads_by_day.new_leads, 0) as new_leads,
        coalesce(new_leads_by_day.new_leads_won, 0) as new_leads_won,
        round(cast(new_leads_by_day.new_leads_won as numeric) / nullif(new_leads_by_day.new_leads, 0), 4)
            as new_leads_won_share,
        round(cast(new_leads_by_day.new_leads_avg_days_to_won as numeric), 2) as new_leads_avg_days_to_won,
        coalesce(qualified_by_day.new_qualified_leads, 0) as new_qualified_leads,
        coalesce(qualified_by_day.converted_leads, 0) as converted_leads,
        round(cast(qualified_by_day.converted_leads as numeric) / nullif(qualified_by_day.new_qualified_leads, 0), 4)
            as conversion_rate,
        coalesce(won_by_day.won_leads, 0) as won_leads,
        round(cast(won_by_day.won_leads as numeric) / nullif(new_leads_by_day.new_leads, 0), 4)
            as lead_to_customer_ratio,
        round(cast(qualified_by_day.avg_days_to_qualify as numeric), 2) as avg_days_to_qualify,
        round(cast(qualified_by_day.avg_days_to_won as numeric), 2) as avg_days_to_won,
        coalesce(sla_by_day.sla_leads, 0) as sla_leads,
        coalesce(sla_by_day.delivered_in_sla_leads, 0) as delivered_in_sla_leads,
        round(cast(sla_by_day.delivered_in_sla_leads as numeric) / nullif(sla_by_day.sla_leads, 0), 4)
            as delivered_in_sla_share,

        -- dates
        days.funnel_day

    from days
    cross join types
    cross join lead_sources
    left join qualified_by_day
        on days.funnel_day = qualified_by_day.funnel_day
            and types.qualification_type = qualified_by_day.qualification_type
            and lead_sources.lead_source = qualified_by_day.lead_source
    left join won_by_day
        on days.funnel_day = won_by_day.funnel_day
            and types.qualification_type = won_by_day.qualification_type
            and lead_sources.lead_source = won_by_day.lead_source
    left join new_leads_by_day
        on days.funnel_day = new_leads_by_day.funnel_day
            and lead_sources.lead_source = new_leads_by_day.lead_source
    left join sla_by_day
        on days.funnel_day = sla_by_day.funnel_day
            and types.qualification_type = sla_by_day.qualification_type
            and lead_sources.lead_source = sla_by_day.lead_source

)

select * from final
