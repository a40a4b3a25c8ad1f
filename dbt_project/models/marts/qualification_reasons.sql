-- The structured reasons of qualified_leads: one row per lead × type × rule that qualifies it now.
with

hits as (

    select * from {{ ref('int_rule_hits') }}
    where is_current

),

qualified as (

    select * from {{ ref('qualified_leads') }}

),

final as (

    select
        -- ids
        hits.rule_hit_id as reason_id,
        hits.lead_id,

        -- strings
        hits.qualification_type,
        hits.rule,
        hits.detail,

        -- timestamps
        hits.qualified_at

    from hits
    inner join qualified
        on hits.lead_id = qualified.lead_id

)

select * from final
