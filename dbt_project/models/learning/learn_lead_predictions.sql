{#
    The active learned model's calibrated conversion probability per lead, as of the run, and why:
    each feature's value (learn_lead_feature_vectors) falls in one of the model's bins, whose points minus
    the feature's missing points are what that fact adds (contribution_points, in the model's feature
    order, with the bins in contribution_bins; learn_lead_contributions names them). log-odds = the model's
    intercept + the points of a lead that has none of its features (the baseline) + the contributions;
    probability = 1 / (1 + e^-log-odds), the chance of winning an opportunity within the model's label
    window; predicted_score = 100 x probability. The points are read when this model compiles
    (macros/learning.sql), so applying a model is arithmetic on one row per lead. Null for every lead
    while no model is active. Why, in words: learn_lead_reasons.
#}
-- sqlfluff:exclude_rules:layout.indent,structure.column_order,ambiguous.column_count
-- (the bins below are generated per feature by macros; sqlfluff cannot place the indent of generated CASEs)
{%- set features = learned_model_features(learned_model_points()) %}

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

{% if features -%}
-- materialized: every value and bin below is read more than once
vectors as materialized (

    select * from {{ ref('learn_lead_feature_vectors') }}

),

binned as materialized (

    select
        lead_id,
        {%- for feature in features %}
        {{ learned_bin(feature, 'feature_' ~ loop.index) }} as bin_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from vectors

),

contributions as (

    select
        lead_id,
        cast(array[
            {%- for feature in features %}
            bin_{{ loop.index }}{{ ',' if not loop.last }}
            {%- endfor %}
        ] as integer[]) as contribution_bins,
        cast(array[
            {%- for feature in features %}
            {{ learned_points(feature, 'bin_' ~ loop.index) }}{{ ',' if not loop.last }}
            {%- endfor %}
        ] as double precision[]) as contribution_points,
        0
        {%- for feature in features %}
        + coalesce({{ learned_points(feature, 'bin_' ~ loop.index) }}, 0)
        {%- endfor %} as contribution_log_odds
    from binned

),
{%- else -%}
-- depends_on: {{ ref('learn_lead_feature_vectors') }}
contributions as (

    select
        lead_id,
        cast(null as integer[]) as contribution_bins,
        cast(null as double precision[]) as contribution_points,
        cast(null as double precision) as contribution_log_odds
    from leads
    where false

),
{%- endif %}

scored as (

    select
        leads.lead_id,
        baseline.model_id,
        contributions.contribution_bins,
        contributions.contribution_points,
        baseline.baseline_log_odds + coalesce(contributions.contribution_log_odds, 0) as log_odds
    from leads
    left join baseline
        on true
    left join contributions
        on leads.lead_id = contributions.lead_id

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
    round(cast(100.0 * probability as numeric), 2) as predicted_score,
    contribution_bins,
    contribution_points
from bounded
