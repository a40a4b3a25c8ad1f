-- Dirty records flagged by the pull (ops.record_flags; the ops migrations create it before every build).
with

source as (

    select * from {{ source('ops', 'record_flags') }}

),

renamed as (

    select
        -- ids
        source || ':' || entity || ':' || record_key || ':' || flag as record_flag_id,
        record_key,

        -- strings
        source,
        entity,
        flag,
        location,
        run_id,

        -- timestamps
        flagged_at

    from source

)

select * from renamed
