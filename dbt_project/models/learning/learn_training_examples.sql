{#
    The point-in-time training set's rows and labels: one row per lead and cutoff (var learn_cutoff_days:
    days after the lead was created), labelled 1 when the lead won an opportunity within
    var learn_label_window_days of the cutoff, 0 when it did not, null while that window has not elapsed
    by the run's as-of. Leads already won before a cutoff have no row for it. rules_total_score is the
    rules' total score at the cutoff (same weights, caps and decay as int_lead_scores, fit as loaded), so a
    learned model is compared with the rules on the same rows. Built only by `leadflow model train`
    (var learn_build_training), not by every run.
#}
{{ config(enabled=var('learn_build_training')) }}

with

leads as (

    select * from {{ ref('int_leads_resolved') }}

),

won as (

    select
        lead_id,
        won_at
    from {{ ref('int_opportunities_resolved') }}
    where is_won and lead_id is not null and won_at is not null

),

rule_events as (

    {{ lead_signal_events() }}

),

cutoff_days as (

    select
        days,
        lag(days) over (order by days) as previous_days
    from unnest(array{{ var('learn_cutoff_days') | sort }}) as cutoff_days (days)

),

lead_cutoffs as (

    select
        leads.lead_id,
        leads.created_at,
        cutoff_days.days,
        cutoff_days.previous_days,
        leads.created_at + interval '1 day' * cutoff_days.days as cutoff_at
    from leads
    cross join cutoff_days
    where leads.created_at + interval '1 day' * cutoff_days.days <= {{ as_of() }}

),

-- cutoffs after the first with a signal since the one before (one hash join, not a probe per cutoff)
refreshed as (

    select distinct
        lead_cutoffs.lead_id,
        lead_cutoffs.cutoff_at
    from lead_cutoffs
    inner join rule_events
        on lead_cutoffs.lead_id = rule_events.lead_id
    where
        lead_cutoffs.previous_days is not null
        and rule_events.occurred_at > lead_cutoffs.created_at + interval '1 day' * lead_cutoffs.previous_days
        and rule_events.occurred_at <= lead_cutoffs.cutoff_at

),

-- a lead's first cutoff always; each later one only when a signal arrived since the one before it
-- (otherwise its row would repeat the previous one's facts)
cutoffs as (

    select
        lead_cutoffs.lead_id,
        lead_cutoffs.cutoff_at
    from lead_cutoffs
    left join refreshed
        on lead_cutoffs.lead_id = refreshed.lead_id and lead_cutoffs.cutoff_at = refreshed.cutoff_at
    where lead_cutoffs.previous_days is null or refreshed.lead_id is not null

),

outcomes as (

    select
        cutoffs.lead_id,
        cutoffs.cutoff_at,
        coalesce(bool_or(won.won_at < cutoffs.cutoff_at), false) as won_before,
        coalesce(
            bool_or(
                won.won_at >= cutoffs.cutoff_at
                and won.won_at <= cutoffs.cutoff_at + interval '1 day' * {{ var('learn_label_window_days') }}
            ),
            false
        ) as won_within
    from cutoffs
    left join won
        on cutoffs.lead_id = won.lead_id
    group by cutoffs.lead_id, cutoffs.cutoff_at

),

labelled as (

    select
        lead_id,
        cutoff_at,
        -- unlabelled until the whole window has elapsed: labelling early wins first would bias recent rows
        case
            when cutoff_at + interval '1 day' * {{ var('learn_label_window_days') }} > {{ as_of() }} then null
            when won_within then 1
            else 0
        end as label
    from outcomes
    where not won_before

),

signal_settings as (

    {{ signal_settings_values() }}

),


-- the rules' behavioural points at each cutoff: per signal, points x decayed count, capped
rule_signal_points as (

    select
        labelled.lead_id,
        labelled.cutoff_at,
        signal_settings.category,
        least(
            signal_settings.cap,
            signal_settings.points * sum(
                power(
                    cast(0.5 as double precision),
                    date_part('epoch', labelled.cutoff_at - events.occurred_at)
                    / (86400.0 * {{ var('decay_half_life_days') }})
                )
            )
        ) as points
    from labelled
    inner join rule_events as events
        on labelled.lead_id = events.lead_id and events.occurred_at <= labelled.cutoff_at
    inner join signal_settings
        on events.signal_name = signal_settings.signal_name
    group by
        labelled.lead_id, labelled.cutoff_at, events.signal_name, signal_settings.category,
        signal_settings.cap, signal_settings.points

),

rule_categories as (

    select
        lead_id,
        cutoff_at,
        least(100, coalesce(sum(points) filter (where category = 'engagement'), 0)) as engagement_score,
        least(100, coalesce(sum(points) filter (where category = 'intent'), 0)) as intent_score,
        least(100, coalesce(sum(points) filter (where category = 'product'), 0)) as product_usage_score
    from rule_signal_points
    group by lead_id, cutoff_at

)

{%- set weights = var('total_score_weights') %}

select
    labelled.lead_id || '@' || to_char(labelled.cutoff_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        as example_id,
    labelled.lead_id,
    labelled.cutoff_at,
    labelled.label,
    round(
        cast(
            least(
                100,
                {{ weights['fit'] }} * coalesce(fit.fit_score, 0)
                + {{ weights['engagement'] }} * coalesce(rule_categories.engagement_score, 0)
                + {{ weights['intent'] }} * coalesce(rule_categories.intent_score, 0)
                + {{ weights['product_usage'] }} * coalesce(rule_categories.product_usage_score, 0)
            ) as numeric
        ),
        2
    ) as rules_total_score
from labelled
left join rule_categories
    on labelled.lead_id = rule_categories.lead_id and labelled.cutoff_at = rule_categories.cutoff_at
left join {{ ref('int_leads_fit_scored') }} as fit
    on labelled.lead_id = fit.lead_id
