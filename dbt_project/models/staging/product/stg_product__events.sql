with

source as (

    select * from {{ source('product', 'events') }}

),

renamed as (

    select
        -- ids
        event_id,
        user_id,
        workspace_id,

        -- strings
        lower(trim(event_name)) as event_name,
        properties ->> 'feature' as feature_name,
        _batch_id as batch_id,
        _source_location as source_location,

        -- json
        properties,

        -- timestamps
        occurred_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
