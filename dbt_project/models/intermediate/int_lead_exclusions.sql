{#
    Why a lead must never be qualified for outreach: a suppressed email (any consent reason), an existing
    customer (CRM account flag, consent reason 'customer' or a won opportunity) or a competitor (consent
    reason 'competitor' or a domain in var competitor_domains).
#}
with

leads as (

    select * from {{ ref('int_leads_resolved') }}

),

fit as (

    select * from {{ ref('int_leads_fit_scored') }}

),

accounts as (

    select * from {{ ref('int_accounts') }}

),

suppressions as (

    select * from {{ ref('int_email_suppressions') }}

),

won_leads as (

    select
        lead_id,
        min(won_at) as first_won_at
    from {{ ref('int_opportunities_resolved') }}
    where is_won and lead_id is not null
    group by lead_id

),

final as (

    select
        leads.lead_id,
        suppressions.email is not null as is_suppressed,
        suppressions.suppression_reason,
        suppressions.suppression_reasons,
        coalesce(accounts.is_customer, false)
        or coalesce(suppressions.is_customer, false)
        or won_leads.lead_id is not null as is_customer,
        coalesce(suppressions.is_competitor, false)
        or coalesce(leads.account_domain in {{ sql_list(var('competitor_domains')) }}, false)
        or coalesce(leads.email_domain in {{ sql_list(var('competitor_domains')) }}, false) as is_competitor,
        suppressions.first_suppressed_at,
        won_leads.first_won_at
    from leads
    left join fit
        on leads.lead_id = fit.lead_id
    left join accounts
        on fit.account_id = accounts.account_id
    left join suppressions
        on leads.email = suppressions.email
    left join won_leads
        on leads.lead_id = won_leads.lead_id

)

select * from final
