with

source as (

    select * from {{ source('crm', 'leads') }}

),

renamed as (

    select
        -- ids
        lead_id,
        owner_id,

        -- strings
        {{ normalize_email('email') }} as email,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        nullif(trim(title), '') as title,
        nullif(trim(company_name), '') as company_name,
        nullif(regexp_replace(lower(trim(company_domain)), '^www\.', ''), '') as company_domain,
        nullif(trim(country), '') as country,
        nullif(lower(trim(lead_source)), '') as lead_source,
        nullif(lower(trim(status)), '') as status,
        _batch_id as batch_id,
        _source_location as source_location,

        -- timestamps
        first_touch_at,
        created_at,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
