with

source as (

    select * from {{ source('web', 'sessions') }}

),

renamed as (

    select
        -- ids
        session_id,
        anonymous_id,
        user_id,
        nullif(trim(lead_id), '') as crm_lead_id,

        -- strings
        {{ normalize_email('email') }} as email,
        landing_page,
        referrer,
        utm_source,
        utm_campaign,
        _batch_id as batch_id,
        _source_location as source_location,

        -- numerics
        -- greatest() skips nulls: an unknown duration stays null, a negative one (clock skew) is 0
        case
            when coalesce(duration_seconds, extract(epoch from ended_at - started_at)) is not null
                then greatest(coalesce(duration_seconds, extract(epoch from ended_at - started_at)), 0)
        end as duration_seconds,
        page_views,

        -- timestamps
        started_at,
        ended_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
