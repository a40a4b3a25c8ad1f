{#
    How well each score ranks leads by outcome: per learned model and score (the model itself, and what
    drove scoring when it was trained: the rules' total score or the then active model), AUC and each
    decile's rows, conversions, conversion rate and lift, on that model's time-split holdout (its card in
    ops.score_models: the same rows for both scores, features as of each row's cutoff, so nothing the
    outcome caused is scored). One set of rows per trained model; is_active marks the one applied today.
#}

with

models as (

    select * from {{ source('ops', 'score_models') }}

),

scores as (

    select
        models.model_id,
        models.status,
        models.trained_at,
        'learned' as score,
        models.algorithm as score_detail,
        models.holdout_auc as auc,
        models.lift_by_decile as deciles
    from models
    union all
    select
        models.model_id,
        models.status,
        models.trained_at,
        case when models.baseline_name like 'active model%' then 'previous_model' else 'rules' end as score,
        models.baseline_name as score_detail,
        models.baseline_holdout_auc as auc,
        models.baseline_lift_by_decile as deciles
    from models
    where models.baseline_lift_by_decile is not null

)

select
    scores.model_id || ':' || scores.score || ':' || (decile.value ->> 'decile') as score_performance_id,
    scores.model_id,
    scores.score,
    scores.score_detail,
    cast(decile.value ->> 'decile' as integer) as decile,
    cast(decile.value ->> 'rows' as integer) as holdout_rows,
    cast(decile.value ->> 'positives' as integer) as conversions,
    cast(decile.value ->> 'conversion_rate' as numeric) as conversion_rate,
    cast(decile.value ->> 'lift' as numeric) as lift,
    scores.auc,
    scores.status = 'active' as is_active,
    scores.trained_at
from scores
cross join lateral jsonb_array_elements(scores.deciles) as decile (value)
