with

source as (

    select * from {{ source('ops', 'sync_ledger') }}

),

renamed as (

    select
        -- ids
        lead_id || ':' || destination as delivery_id,
        lead_id,

        -- strings
        destination,
        status,

        -- timestamps
        first_delivered_at,
        delivered_at,
        qualified_at,
        qualification_delivered_at

    from source

)

select * from renamed
