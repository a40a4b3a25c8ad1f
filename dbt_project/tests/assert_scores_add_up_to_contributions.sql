-- Every score is explainable: it equals the sum of its per-signal contributions (capped at 100).
with

contributions as (

    select
        lead_id,
        least(100, coalesce(sum(points) filter (where category = 'engagement'), 0)) as engagement_points,
        least(100, coalesce(sum(points) filter (where category = 'fit'), 0)) as fit_points
    from {{ ref('lead_score_contributions') }}
    where category in ('engagement', 'fit')  -- the learned rows are log-odds, summed in learn_lead_predictions
    group by lead_id

)

select
    scores.lead_id,
    scores.fit_score,
    scores.engagement_score,
    contributions.fit_points,
    contributions.engagement_points
from {{ ref('lead_scores') }} as scores
left join contributions
    on scores.lead_id = contributions.lead_id
where
    abs(scores.fit_score - coalesce(contributions.fit_points, 0)) > 0.01
    or abs(scores.engagement_score - coalesce(contributions.engagement_points, 0)) > 0.01
