{#
    Every feature a learned model may use, per lead, as of the run (one row per lead and feature; see
    macros/learning.sql). learn_lead_predictions applies the active model's points to these rows. Empty
    (and nearly free) while no model is active.
#}
-- depends_on: {{ ref('stg_crm__leads') }}
-- depends_on: {{ ref('stg_crm__accounts') }}

with

active_model as (

    select * from {{ ref('learn_active_model') }}

),

cutoffs as (

    select
        leads.lead_id,
        {{ as_of() }} as cutoff_at
    from {{ ref('int_leads_resolved') }} as leads
    where exists (select 1 from active_model)

),

{{ point_in_time_features('cutoffs', from_totals=true) }}

select
    lead_id,
    feature,
    value_num,
    value_text
from point_in_time_features
