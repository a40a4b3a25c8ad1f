{#
    One account per company domain. CRM accounts keep their account_id; when several CRM accounts share
    a domain the customer / most recently updated one owns the domain. Domains seen only on leads
    (company domain, else a business email domain) get 'domain:' || domain. Free-mail domains never
    form an account (a CRM account on one keeps its row but no domain, so no lead joins it by domain).
#}
with

crm_accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

leads as (

    select * from {{ ref('int_leads_resolved') }}

),

free_email_domains as (

    select * from {{ ref('free_email_domains') }}

),

crm_ranked as (

    select
        crm_accounts.*,
        free_email_domains.domain is not null as is_free_mail_domain,
        row_number() over (
            partition by crm_accounts.domain
            order by crm_accounts.is_customer desc, crm_accounts.updated_at desc nulls last, crm_accounts.account_id asc
        ) as domain_rank
    from crm_accounts
    left join free_email_domains
        on crm_accounts.domain = free_email_domains.domain

),

crm_domains as (

    select
        account_id,
        case
            when domain_rank = 1 and not is_free_mail_domain then domain
        end as domain,
        account_name,
        industry,
        country,
        employee_count,
        annual_revenue,
        is_customer,
        true as has_crm_record,
        updated_at
    from crm_ranked

),

lead_domains as (

    select
        account_domain as domain,
        min(company_name) as company_name,
        min(created_at) as first_seen_at
    from leads
    where account_domain is not null
    group by account_domain

),

lead_only_domains as (

    select
        'domain:' || lead_domains.domain as account_id,
        lead_domains.domain,
        lead_domains.company_name as account_name,
        cast(null as text) as industry,
        cast(null as text) as country,
        cast(null as bigint) as employee_count,
        cast(null as numeric) as annual_revenue,
        false as is_customer,
        false as has_crm_record,
        cast(null as timestamptz) as updated_at
    from lead_domains
    left join crm_domains
        on lead_domains.domain = crm_domains.domain
    where crm_domains.account_id is null

),

final as (

    select * from crm_domains
    union all
    select * from lead_only_domains

)

select * from final
