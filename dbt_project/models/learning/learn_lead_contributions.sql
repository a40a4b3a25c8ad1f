{#
    The active learned model's points for each lead (lead x feature the lead has): the points of the bin
    or category its value falls in, minus the points the model gives a lead without that feature, so each
    row says what that fact adds to the lead's log-odds of converting. Empty while no model is active
    (`leadflow model activate`). The points come from ops.score_model_points, written by
    `leadflow model train` (plugins/leadflow/learn/). A view: learn_lead_predictions sums it in one pass,
    and lead_score_contributions reads it per lead.
#}
{{ config(materialized='view') }}

with

active_model as (

    select * from {{ ref('learn_active_model') }}

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
        bool_or(bin_kind in ('category', 'other')) as is_categorical,
        -- a numeric feature's inner edges, ascending: width_bucket() gives the bin a value falls in
        array_agg(lower_bound order by bin_id) filter (where bin_kind = 'range' and lower_bound is not null)
            as edges
    from model_points
    group by feature

),

features as (

    select
        lead_features.lead_id,
        lead_features.feature,
        model_features.missing_points,
        case
            when model_features.is_categorical then null
            -- bin 1 is below the first edge; a value equal to an edge belongs to the bin it starts
            when lead_features.value_num is not null
                then 1 + coalesce(width_bucket(lead_features.value_num, model_features.edges), 0)
        end as bin_id,
        case when model_features.is_categorical then lead_features.value_text end as category
    from {{ ref('learn_lead_features') }} as lead_features
    inner join model_features
        on lead_features.feature = model_features.feature

),

matches as (

    select
        features.lead_id,
        features.feature,
        features.missing_points,
        coalesce(by_bin.label, by_category.label, other.label) as bin_label,
        coalesce(by_bin.points, by_category.points, other.points) as points
    from features
    left join model_points as by_bin
        on features.feature = by_bin.feature and features.bin_id = by_bin.bin_id and by_bin.bin_kind = 'range'
    left join model_points as by_category
        on
            features.feature = by_category.feature
            and features.category = by_category.category
            and by_category.bin_kind = 'category'
    left join model_points as other
        on features.feature = other.feature and features.category is not null and other.bin_kind = 'other'
    where features.bin_id is not null or features.category is not null

)

select
    matches.lead_id || ':' || matches.feature as learned_contribution_id,
    matches.lead_id,
    active_model.model_id,
    matches.feature,
    matches.bin_label,
    matches.points - matches.missing_points as points
from matches
cross join active_model
where matches.points is not null
