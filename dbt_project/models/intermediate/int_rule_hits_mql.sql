{#
    Marketing-qualified: fit score >= mql_min_fit_score and engagement score >= mql_min_engagement_score.
    qualified_at is when the engagement score last rose through the threshold (start of the current run
    above it); first_qualified_at is the first time it ever did, for leads whose fit qualifies.
    The crossings are rebuilt exactly, point in time, by int_mql_crossings (as_of-independent); here
    only those up to as_of count.
#}
{%- set threshold = var('mql_min_engagement_score') %}

with

scores as (

    select * from {{ ref('int_lead_scores') }}

),

contributions as (

    select * from {{ ref('int_score_contributions') }}
    where category = 'engagement'

),

crossings as (

    select
        lead_id,
        min(crossed_at) as first_crossed_at,
        max(crossed_at) as last_crossed_at
    from {{ ref('int_mql_crossings') }}
    where is_computed and crossed_at <= {{ as_of() }}
    group by lead_id

),

signal_lists as (

    select
        lead_id,
        string_agg({{ signal_label('signal_name') }}, ', ' order by signal_name) as engagement_signals,
        max(last_occurred_at) as last_engaged_at
    from contributions
    group by lead_id

),

final as (

    select
        scores.lead_id || ':mql:fit_and_engagement' as rule_hit_id,
        scores.lead_id,
        'mql' as qualification_type,
        'fit_and_engagement' as rule,
        case
            when scores.engagement_score >= {{ threshold }}
                then format(
                        'fit %s (≥ %s) and engagement ≥ %s, from %s',
                        trim_scale(scores.fit_score),
                        {{ var('mql_min_fit_score') }},
                        {{ threshold }},
                        signal_lists.engagement_signals
                    )
        end as detail,
        case
            when scores.engagement_score >= {{ threshold }}
                then coalesce(crossings.last_crossed_at, signal_lists.last_engaged_at)
        end as qualified_at,
        coalesce(crossings.first_crossed_at, signal_lists.last_engaged_at) as first_qualified_at
    from scores
    left join crossings
        on scores.lead_id = crossings.lead_id
    left join signal_lists
        on scores.lead_id = signal_lists.lead_id
    where
        scores.fit_score >= {{ var('mql_min_fit_score') }}
        and (crossings.lead_id is not null or scores.engagement_score >= {{ threshold }})

)

select * from final
