-- One row per account (CRM account or company domain seen on leads) with its leads, qualification and deals.
with

accounts as (

    select * from {{ ref('int_accounts') }}

),

leads as (

    select * from {{ ref('leads') }}

),

scores as (

    select * from {{ ref('int_lead_scores') }}

),

qualified as (

    select * from {{ ref('qualified_leads') }}

),

opportunities as (

    select * from {{ ref('int_opportunities_resolved') }}
    where account_id is not null

),

lead_rollup as (

    select
        leads.account_id,
        count(*) as lead_count,
        count(qualified.lead_id) as qualified_lead_count,
        count(*) filter (where qualified.is_conversion_qualified) as conversion_qualified_lead_count,
        max(scores.total_score) as max_total_score,
        round(avg(scores.fit_score), 2) as avg_fit_score,
        max(qualified.qualifying_event_at) as last_qualified_at,
        min(leads.created_at) as first_lead_created_at
    from leads
    inner join scores
        on leads.lead_id = scores.lead_id
    left join qualified
        on leads.lead_id = qualified.lead_id
    where leads.account_id is not null
    group by leads.account_id

),

opportunity_rollup as (

    select
        account_id,
        count(*) filter (where not is_closed) as open_opportunity_count,
        count(*) filter (where is_won) as won_opportunity_count,
        coalesce(sum(amount) filter (where is_won), 0) as won_amount,
        max(won_at) as last_won_at
    from opportunities
    group by account_id

),

final as (

    select
        -- ids
        accounts.account_id,

        -- strings
        accounts.domain,
        accounts.account_name,
        accounts.industry,
        accounts.country,

        -- numerics
        accounts.employee_count,
        accounts.annual_revenue,
        coalesce(lead_rollup.lead_count, 0) as lead_count,
        coalesce(lead_rollup.qualified_lead_count, 0) as qualified_lead_count,
        coalesce(lead_rollup.conversion_qualified_lead_count, 0) as conversion_qualified_lead_count,
        lead_rollup.max_total_score,
        lead_rollup.avg_fit_score,
        coalesce(opportunity_rollup.open_opportunity_count, 0) as open_opportunity_count,
        coalesce(opportunity_rollup.won_opportunity_count, 0) as won_opportunity_count,
        coalesce(opportunity_rollup.won_amount, 0) as won_amount,

        -- booleans
        accounts.is_customer,
        accounts.has_crm_record,

        -- timestamps
        lead_rollup.first_lead_created_at,
        lead_rollup.last_qualified_at,
        opportunity_rollup.last_won_at

    from accounts
    left join lead_rollup
        on accounts.account_id = lead_rollup.account_id
    left join opportunity_rollup
        on accounts.account_id = opportunity_rollup.account_id

)

select * from final
