{#
    Applying the active learned model, step 1: every lead's value of each feature the model uses, as of
    the run, one column per feature in the model's feature order (feature_1, ...: a number or a category;
    null where the lead has none). One row per lead, computed from the same sources and expressions
    as the training set (macros/learning.sql). A view: learn_lead_predictions reads it once. Empty while
    no model is active.
#}
-- depends_on: {{ ref('int_lead_signal_totals') }}
-- depends_on: {{ ref('int_lead_events') }}
-- depends_on: {{ ref('int_touch_signals') }}
-- depends_on: {{ ref('int_lead_identities') }}
-- depends_on: {{ ref('stg_conversations__conversations') }}
-- depends_on: {{ ref('stg_quiz__responses') }}
-- depends_on: {{ ref('int_web_sessions') }}
-- depends_on: {{ ref('int_leads_fit_scored') }}
-- depends_on: {{ ref('stg_crm__leads') }}
-- depends_on: {{ ref('stg_crm__accounts') }}
-- depends_on: {{ source('crm', 'leads') }}
-- depends_on: {{ source('crm', 'accounts') }}
{{ config(materialized='view') }}
{%- set features = learned_model_features(learned_model_points()) %}

with

cutoffs as (

    select
        leads.lead_id,
        {{ as_of() }} as cutoff_at
    from {{ ref('int_leads_resolved') }} as leads
    {%- if not features %}
    where false
    {%- endif %}

),

{% if features -%}
{{ learned_feature_vectors('cutoffs', features) }}

select * from feature_vectors
{%- else -%}
feature_vectors as (

    select lead_id from cutoffs

)

select * from feature_vectors
{%- endif %}
