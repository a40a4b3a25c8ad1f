{#
    The active learned model's points for each lead (lead x feature the lead has): what that fact adds to
    the lead's log-odds of converting (the points of the bin or category its value falls in, minus the
    points the model gives a lead without it), with the bin in words: learn_lead_predictions' per-lead
    arrays unfolded against the model's features and ops.score_model_points, written by
    `leadflow model train` (plugins/leadflow/learn/). Empty while no model is active. A view:
    lead_score_contributions reads the leads it needs.
#}
-- depends_on: {{ ref('learn_active_model') }}
{{ config(materialized='view') }}

with

predictions as (

    select * from {{ ref('learn_lead_predictions') }}

),

contributions as (

    {{ learned_contributions('predictions') }}

)

select * from contributions
