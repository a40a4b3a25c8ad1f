{#
    The identity map as a contracted mart: every identifier a source uses for a person -> the resolved
    lead. The fast lane resolves the people behind hot events through it (plugins/leadflow/fastlane/scope.py),
    so its columns are a contract, not an intermediate detail. A table, swapped atomically on each build:
    a fast-lane run during a batch build always finds it.
#}
with

identities as (

    select * from {{ ref('int_lead_identities') }}

),

final as (

    select
        -- ids
        identity_id,
        lead_id,

        -- strings
        identifier_type,
        identifier

    from identities

)

select * from final
