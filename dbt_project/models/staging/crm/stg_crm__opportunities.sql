with

source as (

    select * from {{ source('crm', 'opportunities') }}

),

renamed as (

    select
        -- ids
        opportunity_id,
        account_id,
        lead_id,

        -- strings
        {{ normalize_email('email') }} as email,
        nullif(lower(trim(stage)), '') as stage,
        _batch_id as batch_id,
        _source_location as source_location,

        -- numerics
        amount,

        -- booleans
        coalesce(is_won, false) as is_won,

        -- timestamps
        created_at,
        closed_at,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
