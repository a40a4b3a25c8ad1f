{#
    Per-signal contributions that make up each lead's scores (lead × signal), as of the run: behavioural
    signals from the as_of-independent totals (int_lead_signal_totals; decayed points = points x growth
    sum x 0.5^((as_of - decay_epoch) / half-life)), conversation and quiz signals from int_touch_signals,
    each capped per signal (var signals); fit components come from int_leads_fit_scored.
    The scores in int_lead_scores are the sums of these rows, so every score is explainable.
    Built from ~800k lead × signal totals (not from events), so rebuilding it every run is cheap and
    weights, caps and the clock always apply. Pairs with events after as_of (back-testing an earlier
    as_of) are recomputed from their events.
#}

with

totals as (

    select * from {{ ref('int_lead_signal_totals') }}
    where signal_count > 0

),

touch_signals as (

    select * from {{ ref('int_touch_signals') }}

),

fit as (

    select * from {{ ref('int_leads_fit_scored') }}

),

signal_settings as (

    {{ signal_settings_values() }}

),

-- pairs with events after as_of: their events up to as_of only
recounted as (

    select
        totals.lead_id,
        totals.signal_name,
        count(events.signal_id) as signal_count,
        coalesce(sum(cast({{ decay_growth('events.occurred_at') }} as numeric)), 0) as growth_sum,
        min(events.occurred_at) as first_occurred_at,
        max(events.occurred_at) as last_occurred_at
    from totals
    left join {{ ref('int_lead_events') }} as events
        on totals.lead_id = events.lead_id
            and totals.signal_name = events.signal_name
            and events.occurred_at <= {{ as_of() }}
    where totals.last_occurred_at > {{ as_of() }}
    group by totals.lead_id, totals.signal_name

),

as_of_totals as (

    select
        lead_id,
        signal_name,
        signal_count,
        growth_sum,
        first_occurred_at,
        last_occurred_at
    from totals
    where last_occurred_at <= {{ as_of() }}

    union all

    select * from recounted
    where signal_count > 0

),

behaviour as (

    select
        as_of_totals.lead_id,
        signal_settings.category,
        as_of_totals.signal_name,
        as_of_totals.signal_count,
        signal_settings.points * as_of_totals.signal_count as undecayed_points,
        signal_settings.points * cast(as_of_totals.growth_sum as double precision) * {{ decay_to_as_of() }}
            as decayed_points,
        signal_settings.cap,
        as_of_totals.first_occurred_at,
        as_of_totals.last_occurred_at
    from as_of_totals
    inner join signal_settings
        on as_of_totals.signal_name = signal_settings.signal_name

),

touch as (

    select
        touch_signals.lead_id,
        signal_settings.category,
        touch_signals.signal_name,
        count(*) as signal_count,
        sum(signal_settings.points) as undecayed_points,
        sum(signal_settings.points * {{ decay_factor('touch_signals.occurred_at') }}) as decayed_points,
        max(signal_settings.cap) as cap,
        min(touch_signals.occurred_at) as first_occurred_at,
        max(touch_signals.occurred_at) as last_occurred_at
    from touch_signals
    inner join signal_settings
        on touch_signals.signal_name = signal_settings.signal_name
    group by touch_signals.lead_id, signal_settings.category, touch_signals.signal_name

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
        cast(null as timestamptz) as first_occurred_at,
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
            ('fit_quiz_use_case', fit.quiz_use_case_points),
            ('fit_lead_source', fit.lead_source_points),
            ('fit_quiz_role', fit.quiz_role_points)
        ) as components (signal_name, points)
    where components.points > 0

),

unioned as (

    select * from behaviour
    union all
    select * from touch
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
        first_occurred_at,
        last_occurred_at

    from unioned

)

select * from final
