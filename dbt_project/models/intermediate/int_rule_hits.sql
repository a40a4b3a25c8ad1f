-- Every qualification rule that ever fired for a lead (lead × type × rule); see the int_rule_hits_* models.
with

conversion_hits as (

    select * from {{ ref('int_rule_hits_conversion') }}

),

sql_hits as (

    select * from {{ ref('int_rule_hits_sql') }}

),

pql_hits as (

    select * from {{ ref('int_rule_hits_pql') }}

),

conversation_hits as (

    select * from {{ ref('int_rule_hits_conversation') }}

),

mql_hits as (

    select * from {{ ref('int_rule_hits_mql') }}

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
