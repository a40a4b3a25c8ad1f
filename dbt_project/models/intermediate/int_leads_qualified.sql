{#
    Current qualification per lead (leads with at least one rule firing now): a flag and time per type,
    the primary type by var qualification_type_precedence, readable and structured reasons, route
    (var routes) and SLA due time (var sla_minutes). Exclusions are carried, not applied: the marts
    drop suppressed leads, customers and competitors.
#}
{%- set precedence = var('qualification_type_precedence') %}

with

hits as (

    select * from {{ ref('int_rule_hits') }}
    where is_current

),

exclusions as (

    select * from {{ ref('int_lead_exclusions') }}

),

learned_reasons as (

    select * from {{ ref('learn_lead_reasons') }}

),

ranked_hits as (

    select
        hits.*,
        case hits.qualification_type
            {%- for type_name in precedence %}
            when '{{ type_name }}' then {{ loop.index }}
            {%- endfor %}
        end as type_rank
    from hits

),

reason_parts as (

    -- reasons are said once: "requested a demo" is both a hot lead's reason and the start of its SQL reason
    select
        ranked_hits.lead_id,
        ranked_hits.type_rank,
        ranked_hits.qualified_at,
        ranked_hits.rule,
        parts.part,
        parts.part_position,
        row_number() over (
            partition by ranked_hits.lead_id, parts.part
            order by
                ranked_hits.type_rank asc,
                ranked_hits.qualified_at asc,
                ranked_hits.rule asc,
                parts.part_position asc
        ) as part_rank
    from ranked_hits
    cross join lateral unnest(string_to_array(ranked_hits.detail, '; ')) with ordinality as parts (part, part_position)

),

reason_texts as (

    select
        lead_id,
        string_agg(part, '; ' order by type_rank asc, qualified_at asc, rule asc, part_position asc) as reasons_text
    from reason_parts
    where part_rank = 1
    group by lead_id

),

per_lead as (

    select
        lead_id,
        {%- for type_name in precedence %}
        bool_or(qualification_type = '{{ type_name }}') as is_{{ type_name }},
        min(qualified_at) filter (where qualification_type = '{{ type_name }}') as {{ type_name }}_qualified_at,
        {%- endfor %}
        min(type_rank) as primary_type_rank,
        jsonb_agg(
            jsonb_build_object('type', qualification_type, 'rule', rule, 'detail', detail)
            order by type_rank, qualified_at, rule
        ) as reasons
    from ranked_hits
    group by lead_id

),

typed as (

    select
        per_lead.*,
        case per_lead.primary_type_rank
            {%- for type_name in precedence %}
            when {{ loop.index }} then '{{ type_name }}'
            {%- endfor %}
        end as primary_type,
        case per_lead.primary_type_rank
            {%- for type_name in precedence %}
            when {{ loop.index }} then per_lead.{{ type_name }}_qualified_at
            {%- endfor %}
        end as qualifying_event_at,
        reason_texts.reasons_text
    from per_lead
    left join reason_texts
        on per_lead.lead_id = reason_texts.lead_id

),

final as (

    select
        -- ids
        typed.lead_id,

        -- strings
        typed.primary_type,
        {{ case_by_type('typed.primary_type', var('routes')) }} as route,
        -- the rules that fired, then what the active learned model weighs most for this lead
        concat_ws('; ', typed.reasons_text, 'learned score: ' || learned_reasons.learned_reasons_text)
            as reasons_text,

        -- json
        case
            when learned_reasons.lead_id is null then typed.reasons
            else typed.reasons || jsonb_build_array(
                    jsonb_build_object(
                        'type', 'learned',
                        'rule', 'active_model',
                        'detail', learned_reasons.learned_reasons_text,
                        'contributions', learned_reasons.learned_reasons
                    )
                )
        end as reasons,

        -- booleans
        typed.is_mql,
        typed.is_sql,
        typed.is_pql,
        typed.is_conversation_qualified,
        typed.is_conversion_qualified,
        exclusions.is_suppressed,
        exclusions.is_customer,
        exclusions.is_competitor,
        exclusions.is_suppressed or exclusions.is_customer or exclusions.is_competitor as is_excluded,

        -- timestamps
        typed.mql_qualified_at,
        typed.sql_qualified_at,
        typed.pql_qualified_at,
        typed.conversation_qualified_qualified_at as conversation_qualified_at,
        typed.conversion_qualified_qualified_at as conversion_qualified_at,
        typed.qualifying_event_at,
        typed.qualifying_event_at
        + interval '1 minute' * {{ case_by_type('typed.primary_type', var('sla_minutes'), 'integer') }}
            as sla_due_at

    from typed
    inner join exclusions
        on typed.lead_id = exclusions.lead_id
    left join learned_reasons
        on typed.lead_id = learned_reasons.lead_id

)

select * from final
