{#
    Every feature a learned model may use, per lead, as of the run: one row per lead and feature, as the
    trainer sees them (macros/learning.sql). For reading ("why does this lead score so?"): a view, queried
    on demand, so it costs nothing in a build. Scoring reads only the features the active model uses, one
    row per lead (learn_lead_feature_vectors).
#}
-- depends_on: {{ ref('stg_crm__leads') }}
-- depends_on: {{ ref('stg_crm__accounts') }}
{{ config(materialized='view') }}

with

cutoffs as (

    select
        leads.lead_id,
        {{ as_of() }} as cutoff_at
    from {{ ref('int_leads_resolved') }} as leads

),

{{ point_in_time_features('cutoffs', from_totals=true) }}

select
    lead_id,
    feature,
    value_num,
    value_text
from point_in_time_features
