{#
    The active learned model's calibrated conversion probability per lead, as of the run, and why:
    log-odds = the model's intercept + the points of a lead that has none of its features (the baseline)
    + the lead's contributions (learn_lead_contributions); probability = 1 / (1 + e^-log-odds), the chance
    of winning an opportunity within the model's label window; predicted_score = 100 x probability.
    Null for every lead while no model is active. Why: learn_lead_reasons.
#}

with

leads as (

    select lead_id from {{ ref('int_leads_resolved') }}

),

active_model as (

    select * from {{ ref('learn_active_model') }}

),

baseline as (

    select
        active_model.model_id,
        active_model.intercept + coalesce(sum(points.points) filter (where points.bin_kind = 'missing'), 0)
            as baseline_log_odds
    from active_model
    left join {{ source('ops', 'score_model_points') }} as points
        on active_model.model_id = points.model_id
    group by active_model.model_id, active_model.intercept

),

summed as (

    select
        lead_id,
        sum(points) as contribution_log_odds
    from {{ ref('learn_lead_contributions') }}
    group by lead_id

),

scored as (

    select
        leads.lead_id,
        baseline.model_id,
        baseline.baseline_log_odds + coalesce(summed.contribution_log_odds, 0) as log_odds
    from leads
    left join baseline
        on true
    left join summed
        on leads.lead_id = summed.lead_id

),

-- log-odds beyond +-50 are certainties in double precision (and exp() would overflow past 709)
bounded as (

    select
        *,
        -- (greatest/least skip nulls: without a model, log_odds is null and so is the probability)
        case when log_odds is not null then 1.0 / (1.0 + exp(-greatest(-50.0, least(50.0, log_odds)))) end
            as probability
    from scored

)

select
    lead_id,
    model_id,
    log_odds,
    probability as conversion_probability,
    round(cast(100.0 * probability as numeric), 2) as predicted_score
from bounded
