{#
    Scores per lead, 0-100, as of the run: fit, engagement, intent and product usage are the sums of
    their capped per-signal contributions (int_score_contributions), each capped at 100; total_score
    is their weighted mean (var total_score_weights).
#}
{%- set weights = var('total_score_weights') %}

with

leads as (

    select * from {{ ref('int_leads_resolved') }}

),

contributions as (

    select * from {{ ref('int_score_contributions') }}

),

summed as (

    select
        lead_id,
        sum(points) filter (where category = 'fit') as fit_points,
        sum(points) filter (where category = 'engagement') as engagement_points,
        sum(points) filter (where category = 'intent') as intent_points,
        sum(points) filter (where category = 'product') as product_usage_points
    from contributions
    group by lead_id

),

scored as (

    select
        leads.lead_id,
        round(cast(least(100, coalesce(summed.fit_points, 0)) as numeric), 2) as fit_score,
        round(cast(least(100, coalesce(summed.engagement_points, 0)) as numeric), 2) as engagement_score,
        round(cast(least(100, coalesce(summed.intent_points, 0)) as numeric), 2) as intent_score,
        round(cast(least(100, coalesce(summed.product_usage_points, 0)) as numeric), 2) as product_usage_score
    from leads
    left join summed
        on leads.lead_id = summed.lead_id

),

final as (

    select
        lead_id,
        fit_score,
        engagement_score,
        intent_score,
        product_usage_score,
        round(
            least(
                100,
                {{ weights['fit'] }} * fit_score
                + {{ weights['engagement'] }} * engagement_score
                + {{ weights['intent'] }} * intent_score
                + {{ weights['product_usage'] }} * product_usage_score
            ),
            2
        ) as total_score,
        {{ as_of() }} as as_of
    from scored

)

select * from final
