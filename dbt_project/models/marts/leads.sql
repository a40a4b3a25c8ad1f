with

leads as (

    select * from {{ ref('int_leads_resolved') }}

),

fit as (

    select * from {{ ref('int_leads_fit_scored') }}

),

exclusions as (

    select * from {{ ref('int_lead_exclusions') }}

),

stages as (

    select * from {{ ref('int_lead_stages') }}

),

web_sessions as (

    select
        lead_id,
        count(*) as web_sessions,
        round(sum(duration_seconds) / 60.0, 1) as time_on_site_minutes
    from {{ ref('int_web_sessions') }}
    where lead_id is not null
    group by lead_id

),

record_flags as (

    select * from {{ ref('stg_ops__record_flags') }}
    where source = 'crm'

),

crm_lead_identities as (

    select * from {{ ref('int_lead_identities') }}
    where identifier_type = 'crm_lead_id'

),

opportunities as (

    select * from {{ ref('int_opportunities_resolved') }}

),

-- flags the pull raised on any CRM record merged into the lead and on the lead's opportunities
lead_record_flags as (

    select
        crm_lead_identities.lead_id,
        record_flags.entity || '.' || record_flags.flag as flag
    from record_flags
    inner join crm_lead_identities
        on record_flags.record_key = crm_lead_identities.identifier
    where record_flags.entity = 'lead'

    union

    select
        opportunities.lead_id,
        record_flags.entity || '.' || record_flags.flag as flag
    from record_flags
    inner join opportunities
        on record_flags.record_key = opportunities.opportunity_id
    where record_flags.entity = 'opportunity' and opportunities.lead_id is not null

),

flags_per_lead as (

    select
        lead_id,
        string_agg(flag, ', ' order by flag) as data_quality_flags
    from lead_record_flags
    group by lead_id

),

final as (

    select
        -- ids
        leads.lead_id,
        leads.crm_lead_id,
        fit.account_id,
        leads.owner_id,

        -- strings
        leads.email,
        leads.email_domain,
        leads.first_name,
        leads.last_name,
        leads.title,
        leads.company_name,
        leads.company_domain,
        leads.country,
        leads.lead_source,
        leads.crm_status,
        fit.seniority,
        fit.company_size_band,
        fit.industry,
        fit.quiz_role,
        fit.quiz_team_size,
        fit.quiz_use_case,
        exclusions.suppression_reason,
        stages.current_stage,
        flags_per_lead.data_quality_flags,

        -- numerics
        fit.employee_count,
        cast(leads.crm_record_count as bigint) as crm_record_count,
        coalesce(web_sessions.web_sessions, 0) as web_sessions,
        web_sessions.time_on_site_minutes,

        -- booleans
        leads.has_crm_record,
        fit.is_business_email,
        fit.is_decision_maker,
        fit.is_icp_industry,
        fit.is_icp_country,
        exclusions.is_suppressed,
        exclusions.is_customer,
        exclusions.is_competitor,

        -- timestamps
        leads.first_touch_at,
        stages.stage_entered_at,
        leads.first_seen_at,
        leads.created_at

    from leads
    inner join fit
        on leads.lead_id = fit.lead_id
    inner join exclusions
        on leads.lead_id = exclusions.lead_id
    inner join stages
        on leads.lead_id = stages.lead_id
    left join flags_per_lead
        on leads.lead_id = flags_per_lead.lead_id
    left join web_sessions
        on leads.lead_id = web_sessions.lead_id

)

select * from final
