{#
    Sales-qualified (BANT): an explicit buying action (web events in var sql_buying_actions, or a
    conversation outcome in var sql_buying_outcomes) and at least sql_min_bant_dimensions of budget,
    authority, need and timeline known from the quiz, conversation topics
    (seeds/topic_bant_dimensions.csv) or the title (seeds/title_seniority_patterns.csv decision makers).
    qualified_at: when both held, using buying actions of the last sql_window_days; first_qualified_at:
    the first time both ever held.
#}
{%- set min_dimensions = var('sql_min_bant_dimensions') %}

with

lead_signals as (

    select * from {{ ref('int_lead_signals') }}
    where signal_name in {{ sql_list(var('sql_buying_actions')) }}

),

conversations as (

    select * from {{ ref('stg_conversations__conversations') }}
    where started_at <= {{ as_of() }}

),

quiz_responses as (

    select * from {{ ref('stg_quiz__responses') }}
    where submitted_at <= {{ as_of() }}

),

identities as (

    select * from {{ ref('int_lead_identities') }}
    where identifier_type = 'email'

),

leads as (

    select * from {{ ref('int_leads_resolved') }}

),

fit as (

    select * from {{ ref('int_leads_fit_scored') }}

),

topic_dimensions as (

    select * from {{ ref('topic_bant_dimensions') }}
    where bant_dimension is not null

),

lead_conversations as (

    select
        identities.lead_id,
        conversations.conversation_id,
        conversations.outcome,
        conversations.topics,
        case
            when conversations.ended_at <= {{ as_of() }} then conversations.ended_at
            else conversations.started_at
        end as occurred_at
    from conversations
    inner join identities
        on conversations.email = identities.identifier

),

lead_quiz_responses as (

    select
        identities.lead_id,
        quiz_responses.*
    from quiz_responses
    inner join identities
        on quiz_responses.email = identities.identifier

),

buying_actions as (

    select
        lead_id,
        signal_name as action,
        occurred_at
    from lead_signals
    union all
    select
        lead_id,
        outcome as action,
        occurred_at
    from lead_conversations
    where outcome in {{ sql_list(var('sql_buying_outcomes')) }}

),

bant_evidence as (

    select
        lead_id,
        'budget' as bant_dimension,
        submitted_at as known_at
    from lead_quiz_responses
    where budget_range is not null and budget_range not in {{ sql_list(var('quiz_unknown_budgets')) }}

    union all

    select
        lead_id,
        'timeline' as bant_dimension,
        submitted_at as known_at
    from lead_quiz_responses
    where timeline in {{ sql_list(var('quiz_known_timelines')) }}

    union all

    select
        lead_id,
        'need' as bant_dimension,
        submitted_at as known_at
    from lead_quiz_responses
    where use_case is not null

    union all

    select
        lead_conversations.lead_id,
        topic_dimensions.bant_dimension,
        lead_conversations.occurred_at as known_at
    from lead_conversations
    cross join lateral jsonb_array_elements_text(lead_conversations.topics) as topics (topic)
    inner join topic_dimensions
        on lower(trim(topics.topic)) = topic_dimensions.topic

    union all

    select
        fit.lead_id,
        'authority' as bant_dimension,
        leads.created_at as known_at
    from fit
    inner join leads
        on fit.lead_id = leads.lead_id
    where fit.is_decision_maker

),

bant_known as (

    select
        lead_id,
        bant_dimension,
        min(known_at) as known_at
    from bant_evidence
    group by lead_id, bant_dimension

),

bant_per_lead as (

    select
        lead_id,
        count(*) as dimensions_known,
        string_agg(bant_dimension, ', ' order by bant_dimension) as dimensions,
        (array_agg(known_at order by known_at))[{{ min_dimensions }}] as enough_known_at
    from bant_known
    group by lead_id

),

actions_per_lead as (

    select
        lead_id,
        min(occurred_at) as first_action_at,
        min(occurred_at) filter (
            where occurred_at > {{ as_of() }} - interval '1 day' * {{ var('sql_window_days') }}
        ) as first_recent_action_at
    from buying_actions
    group by lead_id

),

recent_actions as (

    select distinct
        lead_id,
        action
    from buying_actions
    where occurred_at > {{ as_of() }} - interval '1 day' * {{ var('sql_window_days') }}

),

recent_action_labels as (

    select
        lead_id,
        string_agg({{ signal_label('action') }}, ', ' order by action) as action_labels
    from recent_actions
    group by lead_id

),

final as (

    select
        actions_per_lead.lead_id || ':sql:buying_action_with_bant' as rule_hit_id,
        actions_per_lead.lead_id,
        'sql' as qualification_type,
        'buying_action_with_bant' as rule,
        case
            when actions_per_lead.first_recent_action_at is not null
                then format('%s; BANT known: %s', recent_action_labels.action_labels, bant_per_lead.dimensions)
        end as detail,
        case
            when actions_per_lead.first_recent_action_at is not null
                then greatest(actions_per_lead.first_recent_action_at, bant_per_lead.enough_known_at)
        end as qualified_at,
        greatest(actions_per_lead.first_action_at, bant_per_lead.enough_known_at) as first_qualified_at
    from actions_per_lead
    inner join bant_per_lead
        on actions_per_lead.lead_id = bant_per_lead.lead_id
    left join recent_action_labels
        on actions_per_lead.lead_id = recent_action_labels.lead_id
    where bant_per_lead.dimensions_known >= {{ min_dimensions }}

)

select * from final
