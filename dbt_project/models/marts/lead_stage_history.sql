{#
    When each lead entered and left each stage, from the snapshot of int_lead_stages
    (snapshots/lead_stages.yml, check strategy on current_stage). entered_at is the business time the
    stage began when the data knows it (never before the previous stage began, never after the snapshot
    that saw the change).
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
        coalesce(stage_entered_at, recorded_at) as candidate_entered_at,
        lag(coalesce(stage_entered_at, recorded_at)) over (
            partition by lead_id order by recorded_at
        ) as previous_candidate_entered_at,
        lag(recorded_at) over (partition by lead_id order by recorded_at) as previous_recorded_at
    from recorded

),

-- business time when it follows the previous stage's start (late data included); otherwise the
-- change happened after the previous snapshot saw the old stage
entered as (

    select
        *,
        least(
            recorded_at,
            case
                when previous_recorded_at is null then candidate_entered_at
                when candidate_entered_at >= previous_candidate_entered_at then candidate_entered_at
                else previous_recorded_at
            end
        ) as entered_at
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
