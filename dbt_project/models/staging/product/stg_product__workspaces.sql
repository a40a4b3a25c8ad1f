with

source as (

    select * from {{ source('product', 'workspaces') }}

),

renamed as (

    select
        -- ids
        workspace_id,

        -- strings
        nullif(lower(trim(plan)), '') as plan,
        _batch_id as batch_id,
        _source_location as source_location,

        -- numerics
        seats,

        -- timestamps
        trial_ends_at,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
