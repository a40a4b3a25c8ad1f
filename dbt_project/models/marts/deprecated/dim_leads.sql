{#
    Deprecated: the mart `leads` under its former name, so queries written against marts.dim_leads keep
    working. A view (it holds no rows of its own); read `leads` instead.
#}
{{ config(materialized='view') }}

select * from {{ ref('leads') }}
