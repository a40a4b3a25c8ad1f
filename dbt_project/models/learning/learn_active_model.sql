{#
    The learned model that scores leads now: the one a person activated most recently
    (`leadflow model activate`, ops.score_models.status = 'active'). No row while none is active.
#}
{{ config(materialized='view') }}

select
    model_id,
    intercept,
    threshold_probability,
    threshold_rule,
    activated_at
from {{ source('ops', 'score_models') }}
where status = 'active'
order by activated_at desc
limit 1
