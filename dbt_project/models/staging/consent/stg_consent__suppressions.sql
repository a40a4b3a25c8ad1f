with

source as (

    select * from {{ source('consent', 'suppressions') }}

),

renamed as (

    select
        -- strings
        {{ normalize_email('email') }} as email,
        lower(trim(reason)) as reason,
        _batch_id as batch_id,
        _source_location as source_location,

        -- timestamps
        added_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
