with

source as (

    select * from {{ source('quiz', 'responses') }}

),

renamed as (

    select
        -- ids
        response_id,

        -- strings
        {{ normalize_email('email') }} as email,
        nullif(trim(role), '') as role,
        nullif(trim(team_size), '') as team_size,
        nullif(trim(current_tooling), '') as current_tooling,
        nullif(trim(use_case), '') as use_case,
        nullif(lower(trim(timeline)), '') as timeline,
        nullif(lower(trim(budget_range)), '') as budget_range,
        _batch_id as batch_id,
        _source_location as source_location,

        -- numerics
        score,

        -- timestamps
        submitted_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
