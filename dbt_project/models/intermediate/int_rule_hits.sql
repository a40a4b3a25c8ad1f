-- Every qualification rule that ever fired for a lead (lead × type × rule); see the int_rule_hits_* models.
{{ config(materialized='lead_scoped') }}

with

conversion_hits as (

    select * from {{ ref('int_rule_hits_conversion') }}
    where {{ lead_scope('lead_id') }}

),

sql_hits as (

    select * from {{ ref('int_rule_hits_sql') }}
    where {{ lead_scope('lead_id') }}

),

pql_hits as (

    select * from {{ ref('int_rule_hits_pql') }}
    where {{ lead_scope('lead_id') }}

),

conversation_hits as (

    select * from {{ ref('int_rule_hits_conversation') }}
    where {{ lead_scope('lead_id') }}

),

mql_hits as (

    select * from {{ ref('int_rule_hits_mql') }}
    where {{ lead_scope('lead_id') }}

),

unioned as (

    select * from conversion_hits
    union all
    select * from sql_hits
    union all
    select * from pql_hits
    union all
    select * from conversation_hits
    union all
    select * from mql_hits

),

final as (

    select
        rule_hit_id,
        lead_id,
        qualification_type,
        rule,
        detail,
        qualified_at is not null as is_current,
        qualified_at,
        first_qualified_at
    from unioned

)

select * from final
