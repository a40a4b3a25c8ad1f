{#
    Conversation-qualified: a meaningful conversation (channel in var conversation_channels, with at
    least conversation_min_visitor_messages visitor messages or conversation_min_minutes minutes) about
    a need or buying topic (seeds/topic_bant_dimensions.csv, is_qualifying_topic).
    qualified_at: the first such conversation of the last conversation_window_days; first_qualified_at:
    the first ever.
#}
with

conversations as (

    select * from {{ ref('stg_conversations__conversations') }}
    where started_at <= {{ as_of() }}

),

identities as (

    select * from {{ ref('int_lead_identities') }}
    where identifier_type = 'email'

),

qualifying_topics as (

    select * from {{ ref('topic_bant_dimensions') }}
    where is_qualifying_topic

),

meaningful_conversations as (

    select
        identities.lead_id,
        conversations.conversation_id,
        conversations.channel,
        conversations.visitor_message_count,
        conversations.topics,
        case
            when conversations.ended_at <= {{ as_of() }}
                then round(extract(epoch from conversations.ended_at - conversations.started_at) / 60)
        end as duration_minutes,
        case
            when conversations.ended_at <= {{ as_of() }} then conversations.ended_at
            else conversations.started_at
        end as occurred_at
    from conversations
    inner join identities
        on conversations.email = identities.identifier
    where
        conversations.channel in {{ sql_list(var('conversation_channels')) }}
        and (
            conversations.visitor_message_count >= {{ var('conversation_min_visitor_messages') }}
            or (
                conversations.ended_at <= {{ as_of() }}
                and conversations.ended_at - conversations.started_at
                >= interval '1 minute' * {{ var('conversation_min_minutes') }}
            )
        )

),

conversation_topics as (

    select
        meaningful_conversations.conversation_id,
        string_agg(distinct qualifying_topics.topic, ', ') as topics
    from meaningful_conversations
    cross join lateral jsonb_array_elements_text(meaningful_conversations.topics) as topics (topic)
    inner join qualifying_topics
        on lower(trim(topics.topic)) = qualifying_topics.topic
    group by meaningful_conversations.conversation_id

),

qualifying_conversations as (

    select
        meaningful_conversations.*,
        conversation_topics.topics as qualifying_topics,
        meaningful_conversations.occurred_at
        > {{ as_of() }} - interval '1 day' * {{ var('conversation_window_days') }} as is_recent
    from meaningful_conversations
    inner join conversation_topics
        on meaningful_conversations.conversation_id = conversation_topics.conversation_id

),

current_conversations as (

    select distinct on (lead_id)
        lead_id,
        occurred_at,
        -- a count of 0 is an unknown count (staging reads a missing one as 0): left out, not shown as "0"
        replace(channel, '_', ' ') || ': ' || concat_ws(
            ', ',
            case
                when visitor_message_count = 1 then '1 visitor message'
                when visitor_message_count > 1 then visitor_message_count || ' visitor messages'
            end,
            case when duration_minutes is not null then duration_minutes || ' min' end,
            'topics ' || qualifying_topics
        ) as detail
    from qualifying_conversations
    where is_recent
    order by lead_id, occurred_at, conversation_id

),

first_conversations as (

    select
        lead_id,
        min(occurred_at) as first_qualified_at
    from qualifying_conversations
    group by lead_id

),

final as (

    select
        first_conversations.lead_id || ':conversation_qualified:meaningful_conversation' as rule_hit_id,
        first_conversations.lead_id,
        'conversation_qualified' as qualification_type,
        'meaningful_conversation' as rule,
        current_conversations.detail,
        current_conversations.occurred_at as qualified_at,
        first_conversations.first_qualified_at
    from first_conversations
    left join current_conversations
        on first_conversations.lead_id = current_conversations.lead_id

)

select * from final
