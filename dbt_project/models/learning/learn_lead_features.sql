{#
    Every feature a learned model may use, per lead, as of the run (one row per lead and feature; see
    macros/learning.sql). learn_lead_predictions applies the active model's points to these rows. Empty
    (and nearly free) while no model is active.
#}
-- depends_on: {{ ref('stg_crm__leads') }}
-- depends_on: {{ ref('stg_crm__accounts') }}

with

cutoffs as (

    select
        lead_id,
        {{ as_of() }} as cutoff_at
    from {{ ref('int_leads_resolved') }}
    where exists (select 1 from {{ source('ops', 'score_models') }} where status = 'active')

),

{{ point_in_time_features('cutoffs') }}

select
    lead_id,
    feature,
    value_num,
    value_text
from point_in_time_features
