-- CRM opportunities known as of the run, attributed to a resolved lead (by CRM lead id, else email).
with

opportunities as (

    select * from {{ ref('stg_crm__opportunities') }}
    where created_at <= {{ as_of() }}

),

crm_lead_identities as (

    select
        identifier,
        lead_id
    from {{ ref('int_lead_identities') }}
    where identifier_type = 'crm_lead_id'

),

email_identities as (

    select
        identifier,
        lead_id
    from {{ ref('int_lead_identities') }}
    where identifier_type = 'email'

),

dated as (

    select
        *,
        case when closed_at <= {{ as_of() }} then closed_at end as closed_as_of_at,
        case
            when is_won and coalesce(closed_at, updated_at) <= {{ as_of() }}
                then coalesce(closed_at, updated_at)
        end as won_as_of_at
    from opportunities

),

final as (

    select
        -- ids
        dated.opportunity_id,
        coalesce(by_crm_lead.lead_id, by_email.lead_id) as lead_id,
        dated.account_id,

        -- strings
        dated.stage,

        -- numerics
        dated.amount,

        -- booleans
        dated.won_as_of_at is not null as is_won,
        dated.closed_as_of_at is not null or dated.won_as_of_at is not null or dated.stage like 'closed%' as is_closed,

        -- timestamps
        dated.created_at,
        coalesce(dated.closed_as_of_at, dated.won_as_of_at) as closed_at,
        dated.won_as_of_at as won_at

    from dated
    left join crm_lead_identities as by_crm_lead
        on dated.lead_id = by_crm_lead.identifier
    left join email_identities as by_email
        on dated.email = by_email.identifier

)

select * from final
