{#
    Conversation and quiz signals per lead, as of the run (small tables, rebuilt every run, so the
    conversation settings apply without a full refresh): a conversation is 'conversation_meaningful'
    on a qualifying channel with enough visitor messages or minutes (vars conversation_*), else
    'conversation'; a quiz response is 'quiz_submitted' plus 'quiz_timeline_<timeline>'; a web session of an
    identified visitor is 'web_session', plus 'web_session_engaged' when it was long or deep enough (int_web_sessions).
#}
with

conversations as (

    select * from {{ ref('stg_conversations__conversations') }}
    where started_at <= {{ as_of() }}

),

quiz_responses as (

    select * from {{ ref('stg_quiz__responses') }}
    where submitted_at <= {{ as_of() }}

),

-- inlined where used: a materialised CTE hides its statistics from the planner
email_identities as not materialized (

    select
        identifier,
        lead_id
    from {{ ref('int_lead_identities') }}
    where identifier_type = 'email'

),

conversation_signals as (

    select
        'conversations:' || conversations.conversation_id as signal_id,
        by_email.lead_id,
        cast(null as text) as workspace_id,
        'conversations' as source,
        case
            when
                conversations.channel in {{ sql_list(var('conversation_channels')) }}
                and (
                    conversations.visitor_message_count >= {{ var('conversation_min_visitor_messages') }}
                    or conversations.ended_at - conversations.started_at
                    >= interval '1 minute' * {{ var('conversation_min_minutes') }}
                )
                then 'conversation_meaningful'
            else 'conversation'
        end as signal_name,
        conversations.channel as signal_detail,
        case
            when conversations.ended_at <= {{ as_of() }} then conversations.ended_at
            else conversations.started_at
        end as occurred_at
    from conversations
    inner join email_identities as by_email
        on conversations.email = by_email.identifier

),

quiz_signals as (

    select
        'quiz:' || quiz_responses.response_id as signal_id,
        by_email.lead_id,
        cast(null as text) as workspace_id,
        'quiz' as source,
        'quiz_submitted' as signal_name,
        quiz_responses.timeline as signal_detail,
        quiz_responses.submitted_at as occurred_at
    from quiz_responses
    inner join email_identities as by_email
        on quiz_responses.email = by_email.identifier

    union all

    select
        'quiz:' || quiz_responses.response_id || ':timeline' as signal_id,
        by_email.lead_id,
        cast(null as text) as workspace_id,
        'quiz' as source,
        'quiz_timeline_' || quiz_responses.timeline as signal_name,
        quiz_responses.timeline as signal_detail,
        quiz_responses.submitted_at as occurred_at
    from quiz_responses
    inner join email_identities as by_email
        on quiz_responses.email = by_email.identifier
    where quiz_responses.timeline is not null

),

session_signals as (

    select
        'web_session:' || session_id as signal_id,
        lead_id,
        cast(null as text) as workspace_id,
        'web' as source,
        'web_session' as signal_name,
        landing_page as signal_detail,
        started_at as occurred_at
    from {{ ref('int_web_sessions') }}
    where lead_id is not null

    union all

    select
        'web_session:' || session_id || ':engaged' as signal_id,
        lead_id,
        cast(null as text) as workspace_id,
        'web' as source,
        'web_session_engaged' as signal_name,
        landing_page as signal_detail,
        started_at as occurred_at
    from {{ ref('int_web_sessions') }}
    where lead_id is not null and is_engaged

),

unioned as (

    select * from conversation_signals
    union all
    select * from quiz_signals
    union all
    select * from session_signals

)

select
    signal_id,
    lead_id,
    workspace_id,
    source,
    signal_name,
    signal_detail,
    occurred_at
from unioned
