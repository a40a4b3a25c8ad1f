{#
    One row per scored event, attributed to a lead, as of the run: behavioural events from int_signals
    plus conversations and quiz responses, with the points of the `signals` var and the points left
    after time decay (half-life var decay_half_life_days). Events after as_of are left out; events of
    people who cannot be resolved to a lead (anonymous visitors never identified) are dropped.
#}
with

signals as (

    select * from {{ ref('int_signals') }}
    where occurred_at <= {{ as_of() }}

),

conversations as (

    select * from {{ ref('stg_conversations__conversations') }}
    where started_at <= {{ as_of() }}

),

quiz_responses as (

    select * from {{ ref('stg_quiz__responses') }}
    where submitted_at <= {{ as_of() }}

),

signal_settings as (

    {{ signal_settings_values() }}

),

-- inlined where used: a materialised CTE hides its statistics and the planner would hash the big side
email_identities as not materialized (

    select
        identifier,
        lead_id
    from {{ ref('int_lead_identities') }}
    where identifier_type = 'email'

),

user_identities as (

    select
        identifier,
        lead_id
    from {{ ref('int_lead_identities') }}
    where identifier_type = 'product_user_id'

),

anonymous_identities as (

    select
        identifier,
        lead_id
    from {{ ref('int_lead_identities') }}
    where identifier_type = 'anonymous_id'

),

behaviour as (

    select
        signals.signal_id,
        coalesce(by_email.lead_id, by_user.lead_id, by_anonymous.lead_id) as lead_id,
        signals.workspace_id,
        signals.source,
        signals.signal_name,
        signals.signal_detail,
        signals.occurred_at
    from signals
    left join email_identities as by_email
        on signals.email = by_email.identifier
    left join user_identities as by_user
        on signals.product_user_id = by_user.identifier
    left join anonymous_identities as by_anonymous
        on signals.anonymous_id = by_anonymous.identifier

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

unioned as (

    select * from behaviour
    where lead_id is not null
    union all
    select * from conversation_signals
    union all
    select * from quiz_signals

),

final as (

    select
        -- ids
        unioned.signal_id,
        unioned.lead_id,
        unioned.workspace_id,

        -- strings
        unioned.source,
        unioned.signal_name,
        coalesce(signal_settings.category, 'unscored') as category,
        unioned.signal_detail,

        -- numerics
        coalesce(signal_settings.points, 0) as points,
        coalesce(signal_settings.points, 0) * {{ decay_factor('unioned.occurred_at') }} as decayed_points,
        coalesce(signal_settings.cap, 0) as cap,

        -- timestamps
        unioned.occurred_at

    from unioned
    left join signal_settings
        on unioned.signal_name = signal_settings.signal_name

)

select * from final
