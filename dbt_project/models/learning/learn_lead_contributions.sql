{#
    The active learned model's points for each lead (lead x feature the lead has): the points of the bin
    or category its value falls in, minus the points the model gives a lead without that feature, so each
    row says what that fact adds to the lead's log-odds of converting. Empty while no model is active
    (`leadflow model activate`). The points come from ops.score_model_points, written by
    `leadflow model train` (plugins/leadflow/learn/).
#}

with

active_model as (

    select
        model_id,
        intercept
    from {{ source('ops', 'score_models') }}
    where status = 'active'
    order by activated_at desc
    limit 1

),

model_points as (

    select points.*
    from {{ source('ops', 'score_model_points') }} as points
    inner join active_model
        on points.model_id = active_model.model_id

),

model_features as (

    select
        feature,
        coalesce(max(points) filter (where bin_kind = 'missing'), 0) as missing_points,
        bool_or(bin_kind in ('category', 'other')) as is_categorical
    from model_points
    group by feature

),

features as (

    select lead_features.*
    from {{ ref('learn_lead_features') }} as lead_features
    inner join model_features
        on lead_features.feature = model_features.feature

),

categorical_matches as (

    select
        features.lead_id,
        features.feature,
        coalesce(by_category.label, other.label) as bin_label,
        coalesce(by_category.points, other.points) as points
    from features
    inner join model_features
        on features.feature = model_features.feature and model_features.is_categorical
    left join model_points as by_category
        on
            features.feature = by_category.feature
            and by_category.bin_kind = 'category'
            and features.value_text = by_category.category
    left join model_points as other
        on features.feature = other.feature and other.bin_kind = 'other'
    where features.value_text is not null

),

numeric_matches as (

    select
        features.lead_id,
        features.feature,
        ranges.label as bin_label,
        ranges.points
    from features
    inner join model_points as ranges
        on
            features.feature = ranges.feature
            and ranges.bin_kind = 'range'
            and (ranges.lower_bound is null or features.value_num >= ranges.lower_bound)
            and (ranges.upper_bound is null or features.value_num < ranges.upper_bound)
    where features.value_num is not null

),

matches as (

    select * from categorical_matches
    union all
    select * from numeric_matches

)

select
    matches.lead_id || ':' || matches.feature as learned_contribution_id,
    matches.lead_id,
    active_model.model_id,
    matches.feature,
    matches.bin_label,
    matches.points - model_features.missing_points as points
from matches
inner join model_features
    on matches.feature = model_features.feature
cross join active_model
where matches.points is not null
