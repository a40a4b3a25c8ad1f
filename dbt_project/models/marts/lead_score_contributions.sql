{{ config(materialized='view') }}

with

contributions as (

    select * from {{ ref('int_score_contributions') }}

),

learned as (

    select * from {{ ref('learn_lead_contributions') }}

),

rules as (

    select
        -- ids
        contribution_id,
        lead_id,

        -- strings
        category,
        signal_name,

        -- numerics
        signal_count,
        round(cast(undecayed_points as numeric), 4) as undecayed_points,
        round(cast(decayed_points as numeric), 4) as decayed_points,
        round(cast(cap as numeric), 4) as cap,
        round(cast(points as numeric), 4) as points,
        cast(null as text) as bin_label,

        -- timestamps
        last_occurred_at

    from contributions

),

-- the active learned model's points (log-odds) for each fact of the lead
learned_points as (

    select
        -- ids
        learned_contribution_id as contribution_id,
        lead_id,

        -- strings
        'learned' as category,
        feature as signal_name,

        -- numerics
        cast(null as bigint) as signal_count,
        cast(null as numeric) as undecayed_points,
        cast(null as numeric) as decayed_points,
        cast(null as numeric) as cap,
        round(cast(points as numeric), 4) as points,
        bin_label,

        -- timestamps
        cast(null as timestamptz) as last_occurred_at

    from learned

),

final as (

    select * from rules
    union all
    select * from learned_points

)

select * from final
