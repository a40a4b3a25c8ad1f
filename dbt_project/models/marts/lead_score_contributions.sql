{{ config(materialized='view') }}

with

contributions as (

    select * from {{ ref('int_score_contributions') }}

),

final as (

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

        -- timestamps
        last_occurred_at

    from contributions

)

select * from final
