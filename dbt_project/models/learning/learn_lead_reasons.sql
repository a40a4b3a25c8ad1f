{#
    Why the active learned model scores a lead as it does, in words: its three largest positive
    contributions (learn_lead_contributions), e.g. "lead_source is lead add form: +1.9, page_view count
    12 to below 20: +0.8". Leads with none have no row; no rows while no model is active.
#}

with

ranked as (

    select
        lead_id,
        feature,
        bin_label,
        points,
        row_number() over (partition by lead_id order by points desc, feature asc) as contribution_rank
    from {{ ref('learn_lead_contributions') }}
    where points > 0

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
