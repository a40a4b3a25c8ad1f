with

scores as (

    select * from {{ ref('int_lead_scores') }}

),

final as (

    select
        lead_id,
        fit_score,
        engagement_score,
        intent_score,
        product_usage_score,
        total_score,
        as_of
    from scores

)

select * from final
