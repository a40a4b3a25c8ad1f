{#
    When each lead entered and left each stage, from the snapshot of int_lead_stages
    (snapshots/lead_stages.yml, check strategy on current_stage). entered_at is the business time the
    stage began when the data knows it, bounded by the snapshot runs that saw the change.
#}
with

snapshot as (

    select * from {{ ref('snp_lead_stages') }}

),

-- dbt records snapshot times as timestamps without zone, in the session time zone
recorded as (

    select
        dbt_scd_id,
        lead_id,
        current_stage,
        stage_entered_at,
        cast(dbt_valid_from as timestamptz) as recorded_at,
        cast(dbt_valid_to as timestamptz) as superseded_at
    from snapshot

),

ordered as (

    select
        *,
        lag(recorded_at) over (partition by lead_id order by recorded_at) as previous_recorded_at
    from recorded

),

entered as (

    select
        *,
        case
            when previous_recorded_at is null
                then least(coalesce(stage_entered_at, recorded_at), recorded_at)
            else least(greatest(coalesce(stage_entered_at, recorded_at), previous_recorded_at), recorded_at)
        end as entered_at
    from ordered

),

final as (

    select
        -- ids
        dbt_scd_id as stage_change_id,
        lead_id,

        -- strings
        current_stage as stage,

        -- booleans
        superseded_at is null as is_current,

        -- timestamps
        entered_at,
        coalesce(lead(entered_at) over (partition by lead_id order by recorded_at), superseded_at) as left_at,
        recorded_at

    from entered

)

select * from final
