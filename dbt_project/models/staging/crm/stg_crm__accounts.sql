with

source as (

    select * from {{ source('crm', 'accounts') }}

),

renamed as (

    select
        -- ids
        account_id,

        -- strings
        nullif(regexp_replace(lower(trim(domain)), '^www\.', ''), '') as domain,
        nullif(trim(name), '') as account_name,
        nullif(trim(industry), '') as industry,
        nullif(trim(country), '') as country,
        _batch_id as batch_id,
        _source_location as source_location,

        -- numerics
        employee_count,
        annual_revenue,

        -- booleans
        coalesce(is_customer, false) as is_customer,

        -- timestamps
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
