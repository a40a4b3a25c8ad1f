with

source as (

    select * from {{ source('conversations', 'conversations') }}

),

renamed as (

    select
        -- ids
        conversation_id,

        -- strings
        lower(trim(email)) as email,
        lower(trim(channel)) as channel,
        nullif(lower(trim(outcome)), '') as outcome,
        _batch_id as batch_id,
        _source_location as source_location,

        -- numerics
        coalesce(visitor_message_count, 0) as visitor_message_count,
        coalesce(agent_message_count, 0) as agent_message_count,

        -- json
        case when jsonb_typeof(topics) = 'array' then topics else '[]'::jsonb end as topics,

        -- timestamps
        started_at,
        ended_at,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
