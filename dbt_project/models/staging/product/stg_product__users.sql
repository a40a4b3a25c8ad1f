with

source as (

    select * from {{ source('product', 'users') }}

),

renamed as (

    select
        -- ids
        user_id,
        workspace_id,

        -- strings
        {{ normalize_email('email') }} as email,
        nullif(lower(trim(plan)), '') as plan,
        _batch_id as batch_id,
        _source_location as source_location,

        -- timestamps
        signed_up_at,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
