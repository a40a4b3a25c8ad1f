{#
    Is the PQL activation milestone real? For the configured milestone (vars pql_min_projects and
    pql_min_teammates_invited within pql_activation_window_days) and for candidates — each product event
    reached n times (var activation_candidate_counts) within d days of signup (var activation_candidate_days),
    and each pair of those within the configured window — the share of workspaces that reach it, how often
    they convert (a lead of the workspace wins an opportunity within conversion_window_days.pql of signup)
    against those that do not, and the lift. Only workspaces whose window has fully elapsed by as_of count.
    Ranked by lift among milestones reached by at least var activation_min_workspaces workspaces.
#}
{%- set window_days = var('conversion_window_days')['pql'] %}
{%- set counts = var('activation_candidate_counts') %}
{%- set days = var('activation_candidate_days') %}

with

window_lengths as (

    select unnest(array{{ (days + [var('pql_activation_window_days')]) | unique | list }}) as days

),

count_thresholds as (

    select unnest(array{{ counts }}) as n

),

workspaces as (

    select
        workspace_id,
        min(signed_up_at) as signup_at
    from {{ ref('stg_product__users') }}
    where workspace_id is not null
    group by workspace_id
    having min(signed_up_at) <= {{ as_of() }} - interval '1 day' * {{ window_days }}

),

converted as (

    select distinct workspaces.workspace_id
    from workspaces
    inner join {{ ref('stg_product__users') }} as product_users
        on workspaces.workspace_id = product_users.workspace_id
    inner join {{ ref('int_lead_identities') }} as identities
        on product_users.user_id = identities.identifier and identities.identifier_type = 'product_user_id'
    inner join {{ ref('int_opportunities_resolved') }} as opportunities
        on identities.lead_id = opportunities.lead_id
    where
        opportunities.is_won
        and opportunities.won_at >= workspaces.signup_at
        and opportunities.won_at <= workspaces.signup_at + interval '1 day' * {{ window_days }}

),

-- events per workspace, event and day window after signup
event_counts as (

    select
        workspaces.workspace_id,
        events.event_name,
        window_days.days,
        count(*) as event_count
    from workspaces
    inner join {{ ref('stg_product__events') }} as events
        on workspaces.workspace_id = events.workspace_id
    cross join window_lengths as window_days
    where
        events.occurred_at >= workspaces.signup_at
        and events.occurred_at < workspaces.signup_at + interval '1 day' * window_days.days
    group by workspaces.workspace_id, events.event_name, window_days.days

),

single_reached as (

    select
        event_counts.workspace_id,
        format('%s >= %s within %s days', event_counts.event_name, thresholds.n, event_counts.days) as milestone,
        event_counts.event_name,
        thresholds.n,
        event_counts.days
    from event_counts
    inner join count_thresholds as thresholds
        on event_counts.event_count >= thresholds.n

),

configured_reached as (

    select workspace_id
    from event_counts
    where days = {{ var('pql_activation_window_days') }}
    group by workspace_id
    having
        coalesce(max(event_count) filter (where event_name = 'project_created'), 0) >= {{ var('pql_min_projects') }}
        and coalesce(max(event_count) filter (where event_name = 'teammate_invited'), 0)
        >= {{ var('pql_min_teammates_invited') }}

),

pair_reached as (

    select
        first_milestone.workspace_id,
        first_milestone.milestone || ' and ' || second_milestone.milestone as milestone
    from single_reached as first_milestone
    inner join single_reached as second_milestone
        on
            first_milestone.workspace_id = second_milestone.workspace_id
            and first_milestone.event_name < second_milestone.event_name
    where
        first_milestone.days = {{ var('pql_activation_window_days') }}
        and second_milestone.days = {{ var('pql_activation_window_days') }}
        and first_milestone.n <= 2
        and second_milestone.n <= 2

),

reached as (

    select
        workspace_id,
        format(
            'configured: project_created >= %s and teammate_invited >= %s within %s days',
            {{ var('pql_min_projects') }}, {{ var('pql_min_teammates_invited') }},
            {{ var('pql_activation_window_days') }}
        ) as milestone,
        true as is_configured
    from configured_reached
    union all
    select
        workspace_id,
        milestone,
        false as is_configured
    from single_reached
    union all
    select
        workspace_id,
        milestone,
        false as is_configured
    from pair_reached

),

totals as (

    select
        count(*) as workspaces,
        count(converted.workspace_id) as conversions
    from workspaces
    left join converted
        on workspaces.workspace_id = converted.workspace_id

),

per_milestone as (

    select
        reached.milestone,
        bool_or(reached.is_configured) as is_configured,
        count(*) as reached_workspaces,
        count(converted.workspace_id) as reached_conversions
    from reached
    left join converted
        on reached.workspace_id = converted.workspace_id
    group by reached.milestone

),

measured as (

    select
        per_milestone.milestone,
        per_milestone.is_configured,
        totals.workspaces,
        per_milestone.reached_workspaces,
        per_milestone.reached_conversions,
        round(cast(per_milestone.reached_workspaces as numeric) / nullif(totals.workspaces, 0), 4) as coverage,
        round(
            cast(per_milestone.reached_conversions as numeric) / nullif(per_milestone.reached_workspaces, 0), 4
        ) as conversion_rate,
        round(
            cast(totals.conversions - per_milestone.reached_conversions as numeric)
            / nullif(totals.workspaces - per_milestone.reached_workspaces, 0),
            4
        ) as others_conversion_rate
    from per_milestone
    cross join totals

)

select
    md5(milestone) as milestone_id,
    milestone,
    is_configured,
    workspaces,
    reached_workspaces,
    reached_conversions,
    coverage,
    conversion_rate,
    others_conversion_rate,
    round(conversion_rate / nullif(others_conversion_rate, 0), 3) as lift,
    case
        when reached_workspaces >= {{ var('activation_min_workspaces') }}
            then rank() over (
                    partition by reached_workspaces >= {{ var('activation_min_workspaces') }}
                    order by conversion_rate / nullif(others_conversion_rate, 0) desc nulls last, coverage desc
                )
    end as lift_rank,
    {{ as_of() }} as as_of
from measured
