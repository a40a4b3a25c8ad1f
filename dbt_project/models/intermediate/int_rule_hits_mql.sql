{#
    Marketing-qualified: fit score >= mql_min_fit_score and engagement score >= mql_min_engagement_score.
    qualified_at is when the engagement score last rose through the threshold (start of the current run
    above it); first_qualified_at is the first time it ever did, for leads whose fit qualifies.
    The engagement score at each engagement event is rebuilt exactly, point in time: for each signal,
    the running sum of its decayed points (decayed to as_of) times 2^(age / half-life) is its value at
    that event, capped per signal as in the score; a crossing is an event where the score before the
    event was under the threshold and after it was not.
#}
{%- set threshold = var('mql_min_engagement_score') %}
{%- set engagement_signals = [] %}
{%- for name, setting in var('signals').items() %}
{%- if setting.category == 'engagement' %}
{%- do engagement_signals.append((name, setting.cap)) %}
{%- endif %}
{%- endfor %}

with

scores as (

    select * from {{ ref('int_lead_scores') }}

),

contributions as (

    select * from {{ ref('int_score_contributions') }}
    where category = 'engagement'

),

lead_signals as (

    select * from {{ ref('int_lead_signals') }}
    where category = 'engagement'

),

-- only leads whose fit qualifies can be MQLs, so only their timelines are rebuilt
engagement_signals as (

    select
        lead_signals.lead_id,
        lead_signals.signal_id,
        lead_signals.signal_name,
        lead_signals.decayed_points,
        lead_signals.occurred_at,
        1 / nullif({{ decay_factor('lead_signals.occurred_at') }}, 0) as growth
    from lead_signals
    inner join scores
        on lead_signals.lead_id = scores.lead_id
    where scores.fit_score >= {{ var('mql_min_fit_score') }}

),

running as (

    select
        {%- for name, cap in engagement_signals %}
        coalesce(sum(decayed_points) filter (where signal_name = '{{ name }}') over running_window, 0)
            as running_{{ name }},
        {%- endfor %}
        lead_id,
        signal_name,
        decayed_points,
        growth,
        occurred_at
    from engagement_signals
    window running_window as (
        partition by lead_id
        order by occurred_at, signal_id
        rows between unbounded preceding and current row
    )

),

timeline as (

    select
        lead_id,
        occurred_at,
        0
        {%- for name, cap in engagement_signals %}
        + least({{ cap }}, growth * running_{{ name }})
        {%- endfor %} as score_after,
        0
        {%- for name, cap in engagement_signals %}
        + least(
            {{ cap }},
            growth * (running_{{ name }} - case when signal_name = '{{ name }}' then decayed_points else 0 end)
        )
        {%- endfor %} as score_before
    from running
    where growth is not null

),

crossings as (

    select
        lead_id,
        min(occurred_at) as first_crossed_at,
        max(occurred_at) as last_crossed_at
    from timeline
    where score_before < {{ threshold }} and score_after >= {{ threshold }}
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
