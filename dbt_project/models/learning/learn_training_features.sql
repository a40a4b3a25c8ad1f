{#
    The point-in-time training set's features: every feature of learn_lead_features, for each training
    row of learn_training_examples, as it stood at that row's cutoff (macros/learning.sql reads nothing
    dated after it). Built only by `leadflow model train` (var learn_build_training).
#}
-- depends_on: {{ ref('stg_crm__leads') }}
-- depends_on: {{ ref('stg_crm__accounts') }}
{{ config(enabled=var('learn_build_training')) }}

with

cutoffs as (

    select
        lead_id,
        cutoff_at
    from {{ ref('learn_training_examples') }}
    where label is not null

),

{{ point_in_time_features('cutoffs') }}

select
    lead_id,
    cutoff_at,
    feature,
    value_num,
    value_text
from point_in_time_features
