{#
    Marketing-qualified: fit score >= mql_min_fit_score and engagement score >= mql_min_engagement_score.
    qualified_at is when the engagement score last rose through the threshold (start of the current run
    above it); first_qualified_at is the first time it ever did, for leads whose fit qualifies.
    The crossings are rebuilt exactly, point in time, by int_mql_crossings (as_of-independent); here
    only those up to as_of count. With mql_min_engagement_score 0 (MQL on fit alone: an export without
    behaviour data) a lead without engagement signals qualifies from its creation.
    With var mql_score = learned and a model active, MQL is instead the active model's conversion
    probability at or above the threshold chosen when it was trained (var mql_learned_target, see
    ops.score_models.threshold_rule); qualified_at is the lead's latest signal up to as_of (else its
    creation). With no active model the rules above apply.
#}
{%- set threshold = var('mql_min_engagement_score') %}

with

scores as (

    select * from {{ ref('int_lead_scores') }}

),

leads as (

    select
        lead_id,
        created_at
    from {{ ref('int_leads_resolved') }}

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
                        'fit %s (≥ %s) and engagement ≥ %s',
                        trim_scale(scores.fit_score),
                        {{ var('mql_min_fit_score') }},
                        {{ threshold }}
                    ) || coalesce(', from ' || signal_lists.engagement_signals, '')
        end as detail,
        case
            when scores.engagement_score >= {{ threshold }}
                then coalesce(crossings.last_crossed_at, signal_lists.last_engaged_at, leads.created_at)
        end as qualified_at,
        coalesce(crossings.first_crossed_at, signal_lists.last_engaged_at, leads.created_at) as first_qualified_at
    from scores
    left join leads
        on scores.lead_id = leads.lead_id
    left join crossings
        on scores.lead_id = crossings.lead_id
    left join signal_lists
        on scores.lead_id = signal_lists.lead_id
    where
        scores.fit_score >= {{ var('mql_min_fit_score') }}
        and (crossings.lead_id is not null or scores.engagement_score >= {{ threshold }})

)

{% if var('mql_score') == 'learned' -%}
, active_model as (

    select * from {{ ref('learn_active_model') }}

),

-- each lead's last signal up to the as-of, from the per-pair totals (macros/learning.sql)
signal_lasts as (

    {{ event_signal_totals_as_of() }}

),

last_signals as (

    select
        lead_id,
        max(last_occurred_at) as last_signal_at
    from signal_lasts
    group by lead_id

),

learned as (

    select
        predictions.lead_id || ':mql:learned_probability' as rule_hit_id,
        predictions.lead_id,
        'mql' as qualification_type,
        'learned_probability' as rule,
        format(
            'learned conversion probability %s%% (≥ %s%%: %s)',
            round(cast(100 * predictions.conversion_probability as numeric), 1),
            round(cast(100 * active_model.threshold_probability as numeric), 1),
            active_model.threshold_rule
        ) as detail,
        coalesce(last_signals.last_signal_at, leads.created_at) as qualified_at,
        coalesce(last_signals.last_signal_at, leads.created_at) as first_qualified_at
    from {{ ref('learn_lead_predictions') }} as predictions
    inner join active_model
        on predictions.model_id = active_model.model_id
    inner join {{ ref('int_leads_resolved') }} as leads
        on predictions.lead_id = leads.lead_id
    left join last_signals
        on predictions.lead_id = last_signals.lead_id
    where predictions.conversion_probability >= active_model.threshold_probability

)

select * from learned
union all
select * from final
where not exists (select 1 from active_model)
{%- else -%}
select * from final
{%- endif %}
