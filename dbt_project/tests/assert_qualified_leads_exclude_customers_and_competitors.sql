-- Suppressed leads, existing customers and competitors are never qualified for outreach.
select
    qualified.lead_id,
    leads.is_suppressed,
    leads.is_customer,
    leads.is_competitor
from {{ ref('qualified_leads') }} as qualified
inner join {{ ref('leads') }} as leads
    on qualified.lead_id = leads.lead_id
where leads.is_suppressed or leads.is_customer or leads.is_competitor
