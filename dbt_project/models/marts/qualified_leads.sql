-- Leads qualified now for at least one type; suppressed emails, customers and competitors never are.
with

qualified as (

    select * from {{ ref('int_leads_qualified') }}
    where not is_excluded

),

leads as (

    select * from {{ ref('int_leads_resolved') }}

),

scores as (

    select * from {{ ref('int_lead_scores') }}

),

final as (

    select
        -- ids
        qualified.lead_id,

        -- strings
        leads.email,
        qualified.primary_type,
        qualified.route,
        qualified.reasons_text,

        -- json
        qualified.reasons,

        -- numerics
        scores.total_score,

        -- booleans
        qualified.is_mql,
        qualified.is_sql,
        qualified.is_pql,
        qualified.is_conversation_qualified,
        qualified.is_conversion_qualified,

        -- timestamps
        qualified.mql_qualified_at,
        qualified.sql_qualified_at,
        qualified.pql_qualified_at,
        qualified.conversation_qualified_at,
        qualified.conversion_qualified_at,
        qualified.qualifying_event_at,
        qualified.sla_due_at

    from qualified
    inner join leads
        on qualified.lead_id = leads.lead_id
    inner join scores
        on qualified.lead_id = scores.lead_id

)

select * from final
