with

source as (

    select * from {{ source('web', 'events') }}

),

renamed as (

    select
        -- ids
        event_id,
        anonymous_id,
        user_id,

        -- strings
        {{ normalize_email('email') }} as email,
        lower(trim(event_type)) as event_type,
        page_path,
        referrer,
        utm_source,
        utm_campaign,
        _batch_id as batch_id,
        _source_location as source_location,

        -- timestamps
        occurred_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
