with

scores as (

    select * from {{ ref('int_lead_scores') }}

),

predictions as (

    select * from {{ ref('learn_lead_predictions') }}

),

final as (

    select
        scores.lead_id,
        scores.fit_score,
        scores.engagement_score,
        scores.intent_score,
        scores.product_usage_score,
        scores.total_score,
        predictions.model_id,
        predictions.conversion_probability,
        predictions.predicted_score,
        scores.as_of
    from scores
    left join predictions
        on scores.lead_id = predictions.lead_id

)

select * from final
