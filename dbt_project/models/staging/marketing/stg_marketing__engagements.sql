with

source as (

    select * from {{ source('marketing', 'engagements') }}

),

renamed as (

    select
        -- ids
        engagement_id,

        -- strings
        lower(trim(email)) as email,
        lower(trim(channel)) as channel,
        lower(trim(action)) as action,
        asset_name,
        _batch_id as batch_id,
        _source_location as source_location,

        -- timestamps
        occurred_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
