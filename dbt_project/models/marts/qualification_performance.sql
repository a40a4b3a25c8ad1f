{#
    Each rule (and each type as a whole, rule 'any') checked against outcomes as of the run.
    A qualified lead converts when it wins an opportunity within the type's conversion window
    (var conversion_window_days) after the rule first fired; a lead the rule never fired for converts
    when it wins within the same window after it was created.
    precision = converted qualified / qualified (the qualified conversion rate);
    recall = converted qualified / all converted; lift = qualified rate / not-qualified rate.
#}
with

leads as (

    select * from {{ ref('int_leads_resolved') }}

),

hits as (

    select * from {{ ref('int_rule_hits') }}

),

rules as (

    select
        qualification_type,
        rule
    from {{ ref('qualification_rules') }}
    union
    select distinct
        qualification_type,
        'any' as rule
    from {{ ref('qualification_rules') }}

),

wins as (

    select
        lead_id,
        min(won_at) as won_at
    from {{ ref('int_opportunities_resolved') }}
    where is_won and lead_id is not null
    group by lead_id

),

lead_outcomes as (

    select
        leads.lead_id,
        leads.created_at,
        wins.won_at
    from leads
    left join wins
        on leads.lead_id = wins.lead_id

),

type_windows as (

    select distinct
        qualification_type,
        {{ case_by_type('qualification_type', var('conversion_window_days'), 'integer') }} as window_days
    from rules

),

rule_firings as (

    select
        lead_id,
        qualification_type,
        rule,
        first_qualified_at
    from hits

    union all

    select
        lead_id,
        qualification_type,
        'any' as rule,
        min(first_qualified_at) as first_qualified_at
    from hits
    group by lead_id, qualification_type

),

firing_outcomes as (

    select
        rule_firings.qualification_type,
        rule_firings.rule,
        lead_outcomes.won_at between rule_firings.first_qualified_at
        and rule_firings.first_qualified_at + interval '1 day' * type_windows.window_days as is_converted,
        lead_outcomes.won_at between lead_outcomes.created_at
        and lead_outcomes.created_at + interval '1 day' * type_windows.window_days as is_won_from_creation
    from rule_firings
    inner join lead_outcomes
        on rule_firings.lead_id = lead_outcomes.lead_id
    inner join type_windows
        on rule_firings.qualification_type = type_windows.qualification_type

),

per_rule as (

    select
        qualification_type,
        rule,
        count(*) as qualified_count,
        count(*) filter (where is_converted) as qualified_won_count,
        count(*) filter (where is_won_from_creation) as qualified_won_from_creation_count
    from firing_outcomes
    group by qualification_type, rule

),

per_type_population as (

    select
        type_windows.qualification_type,
        count(*) as lead_count,
        count(*) filter (
            where lead_outcomes.won_at between lead_outcomes.created_at
            and lead_outcomes.created_at + interval '1 day' * type_windows.window_days
        ) as won_from_creation_count
    from type_windows
    cross join lead_outcomes
    group by type_windows.qualification_type

),

counted as (

    select
        rules.qualification_type,
        rules.rule,
        type_windows.window_days as conversion_window_days,
        coalesce(per_type_population.lead_count, 0) as lead_count,
        coalesce(per_rule.qualified_count, 0) as qualified_count,
        coalesce(per_rule.qualified_won_count, 0) as qualified_won_count,
        coalesce(per_type_population.lead_count, 0) - coalesce(per_rule.qualified_count, 0) as not_qualified_count,
        coalesce(per_type_population.won_from_creation_count, 0)
        - coalesce(per_rule.qualified_won_from_creation_count, 0) as not_qualified_won_count
    from rules
    left join per_rule
        on rules.qualification_type = per_rule.qualification_type
            and rules.rule = per_rule.rule
    left join per_type_population
        on rules.qualification_type = per_type_population.qualification_type
    inner join type_windows
        on rules.qualification_type = type_windows.qualification_type

),

final as (

    select
        -- ids
        qualification_type || ':' || rule as performance_id,

        -- strings
        qualification_type,
        rule,

        -- numerics
        conversion_window_days,
        lead_count,
        qualified_count,
        qualified_won_count,
        not_qualified_count,
        not_qualified_won_count,
        round(qualified_won_count::numeric / nullif(qualified_count, 0), 4) as conversion_rate_qualified,
        round(not_qualified_won_count::numeric / nullif(not_qualified_count, 0), 4) as conversion_rate_not_qualified,
        round(
            (qualified_won_count::numeric / nullif(qualified_count, 0))
            / nullif(not_qualified_won_count::numeric / nullif(not_qualified_count, 0), 0),
            4
        ) as lift,
        round(qualified_won_count::numeric / nullif(qualified_count, 0), 4) as precision,
        round(qualified_won_count::numeric / nullif(qualified_won_count + not_qualified_won_count, 0), 4) as recall,

        -- timestamps
        {{ as_of() }} as as_of

    from counted

)

select * from final
