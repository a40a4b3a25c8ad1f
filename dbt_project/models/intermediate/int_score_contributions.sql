{#
    Per-signal contributions that make up each lead's scores (lead × signal): behavioural signals are
    summed after decay and capped per signal (var signals); fit components come from int_leads_fit_scored.
    The scores in int_lead_scores are the sums of these rows, so every score is explainable.
#}
with

lead_signals as (

    select * from {{ ref('int_lead_signals') }}
    where category <> 'unscored'

),

fit as (

    select * from {{ ref('int_leads_fit_scored') }}

),

behaviour as (

    select
        lead_id,
        category,
        signal_name,
        count(*) as signal_count,
        sum(points) as undecayed_points,
        sum(decayed_points) as decayed_points,
        max(cap) as cap,
        max(occurred_at) as last_occurred_at
    from lead_signals
    group by lead_id, category, signal_name

),

fit_components as (

    select
        fit.lead_id,
        'fit' as category,
        components.signal_name,
        1 as signal_count,
        components.points as undecayed_points,
        components.points as decayed_points,
        components.points as cap,
        cast(null as timestamptz) as last_occurred_at
    from fit
    cross join
        lateral (
            values
            ('fit_seniority', fit.seniority_points),
            ('fit_company_size', fit.company_size_points),
            ('fit_icp_industry', fit.industry_points),
            ('fit_icp_country', fit.country_points),
            ('fit_business_email', fit.business_email_points),
            ('fit_quiz_use_case', fit.quiz_use_case_points)
        ) as components (signal_name, points)
    where components.points > 0

),

unioned as (

    select * from behaviour
    union all
    select * from fit_components

),

final as (

    select
        -- ids
        lead_id || ':' || signal_name as contribution_id,
        lead_id,

        -- strings
        category,
        signal_name,

        -- numerics
        signal_count,
        cast(undecayed_points as double precision) as undecayed_points,
        cast(decayed_points as double precision) as decayed_points,
        cast(cap as double precision) as cap,
        cast(least(decayed_points, cap) as double precision) as points,

        -- timestamps
        last_occurred_at

    from unioned

)

select * from final
