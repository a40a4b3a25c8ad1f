{#
    Why the active learned model scores a lead as it does, in words, for the leads a rule qualifies now
    (the only ones whose reasons are shown): its three largest positive contributions, e.g. "lead_source
    is lead add form: +1.9, page_view count 12 to below 20: +0.8" (learned_reasons: the same as JSON).
#}
-- depends_on: {{ ref('learn_active_model') }}

with

qualified as (

    select distinct lead_id
    from {{ ref('int_rule_hits') }}
    where is_current

),

-- only the qualified leads' contributions are unfolded
qualified_predictions as (

    select predictions.*
    from {{ ref('learn_lead_predictions') }} as predictions
    inner join qualified
        on predictions.lead_id = qualified.lead_id

),

contributions as (

    -- a reason worth naming (shown to one decimal), the three largest per lead
    {{ learned_contributions('qualified_predictions', min_points=0.05, top=3) }}

),

ranked as (

    select
        contributions.lead_id,
        contributions.feature,
        contributions.bin_label,
        contributions.points,
        row_number() over (
            partition by contributions.lead_id order by contributions.points desc, contributions.feature asc
        ) as contribution_rank
    from contributions

)

select
    lead_id,
    string_agg(
        {{ learned_contribution_text('feature', 'bin_label', 'points') }}, ', ' order by contribution_rank
    ) as learned_reasons_text,
    jsonb_agg(
        jsonb_build_object('feature', feature, 'value', bin_label, 'points', round(cast(points as numeric), 2))
        order by contribution_rank
    ) as learned_reasons
from ranked
where contribution_rank <= 3
group by lead_id
