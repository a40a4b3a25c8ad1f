{#
    Conversion-qualified (hot) rules, one row per lead × rule that ever fired:
    a request (hot_request_signals: demo request, quote request; the rule is the signal's name),
    >= hot_min_pricing_views pricing views (hot_pricing_signal), cart abandon (hot_checkout_signals: checkout
    started, not completed after hot_cart_abandon_grace_minutes), quiz timeline hot_quiz_timeline (this_quarter)
    with a score of at least hot_quiz_min_score (rule quiz_this_quarter). The fast lane's watcher reads the
    same vars (plugins/leadflow/fastlane/detect.py).
    qualified_at: when the rule fired inside the hot window (the last hot_window_hours before as_of);
    null when it did not. first_qualified_at: the first time it ever fired (any 48 h span), for
    back-testing against won opportunities.
#}
{%- set hot_window = "interval '" ~ var('hot_window_hours') ~ " hours'" %}
{%- set grace = "interval '" ~ var('hot_cart_abandon_grace_minutes') ~ " minutes'" %}
{%- set min_views = var('hot_min_pricing_views') %}
{%- set requests = var('hot_request_signals') %}
{%- set pricing_view = var('hot_pricing_signal') %}
{%- set checkout = var('hot_checkout_signals') %}

with

lead_signals as (

    select * from {{ ref('int_lead_signals') }}
    where signal_name in {{ sql_list(requests + [pricing_view, checkout.started, checkout.completed]) }}

),

quiz_responses as (

    select * from {{ ref('stg_quiz__responses') }}
    where submitted_at <= {{ as_of() }}

),

identities as (

    select * from {{ ref('int_lead_identities') }}
    where identifier_type = 'email'

),

requests as (

    select
        lead_id,
        signal_name as rule,
        min(occurred_at) filter (where occurred_at > {{ as_of() }} - {{ hot_window }}) as qualified_at,
        min(occurred_at) as first_qualified_at
    from lead_signals
    where signal_name in {{ sql_list(requests) }}
    group by lead_id, signal_name

),

request_hits as (

    select
        lead_id,
        rule,
        qualified_at,
        first_qualified_at,
        case when qualified_at is not null then {{ signal_label('rule') }} end as detail
    from requests

),

pricing_views as (

    select
        lead_id,
        occurred_at,
        occurred_at > {{ as_of() }} - {{ hot_window }} as is_in_hot_window,
        count(*) over (
            partition by lead_id
            order by occurred_at
            range between {{ hot_window }} preceding and current row
        ) as views_in_rolling_window
    from lead_signals
    where signal_name = {{ sql_text(pricing_view) }}

),

pricing_views_in_window as (

    select
        lead_id,
        occurred_at,
        row_number() over (partition by lead_id order by occurred_at) as view_number
    from pricing_views
    where is_in_hot_window

),

pricing_current as (

    select
        lead_id,
        max(occurred_at) filter (where view_number = {{ min_views }}) as qualified_at,
        count(*) as view_count,
        min(occurred_at) as first_view_at,
        max(occurred_at) as last_view_at
    from pricing_views_in_window
    group by lead_id
    having count(*) >= {{ min_views }}

),

pricing_first as (

    select
        lead_id,
        min(occurred_at) as first_qualified_at
    from pricing_views
    where views_in_rolling_window >= {{ min_views }}
    group by lead_id

),

pricing_hits as (

    select
        pricing_first.lead_id,
        'pricing_views' as rule,
        pricing_current.qualified_at,
        pricing_first.first_qualified_at,
        case
            when pricing_current.lead_id is not null
                then format(
                        'viewed pricing %s× in %s h',
                        pricing_current.view_count,
                        greatest(
                            1,
                            ceil(
                                extract(epoch from pricing_current.last_view_at - pricing_current.first_view_at) / 3600
                            )
                        )
                    )
        end as detail
    from pricing_first
    left join pricing_current
        on pricing_first.lead_id = pricing_current.lead_id

),

checkouts as (

    select
        lead_id,
        signal_name,
        occurred_at,
        -- first completion at or after each event (running min over the events that follow it)
        min(occurred_at) filter (where signal_name = {{ sql_text(checkout.completed) }}) over (
            partition by lead_id
            order by occurred_at desc, signal_name = {{ sql_text(checkout.completed) }} desc
            rows between unbounded preceding and current row
        ) as next_completed_at
    from lead_signals
    where signal_name in {{ sql_list([checkout.started, checkout.completed]) }}

),

abandoned_checkouts as (

    select
        lead_id,
        occurred_at + {{ grace }} as abandoned_at,
        next_completed_at is null as is_still_open
    from checkouts
    where
        signal_name = {{ sql_text(checkout.started) }}
        and occurred_at + {{ grace }} <= {{ as_of() }}
        and (next_completed_at is null or next_completed_at > occurred_at + {{ grace }})

),

cart_hits as (

    select
        lead_id,
        'cart_abandon' as rule,
        min(abandoned_at) filter (
            where is_still_open and abandoned_at - {{ grace }} > {{ as_of() }} - {{ hot_window }}
        ) as qualified_at,
        min(abandoned_at) as first_qualified_at,
        case
            when bool_or(is_still_open and abandoned_at - {{ grace }} > {{ as_of() }} - {{ hot_window }})
                then 'started checkout without completing it'
        end as detail
    from abandoned_checkouts
    group by lead_id

),

quiz_hot_responses as (

    select
        identities.lead_id,
        quiz_responses.submitted_at,
        quiz_responses.score
    from quiz_responses
    inner join identities
        on quiz_responses.email = identities.identifier
    where
        quiz_responses.timeline = {{ sql_text(var('hot_quiz_timeline')) }}
        and quiz_responses.score >= {{ var('hot_quiz_min_score') }}

),

quiz_hits as (

    select
        lead_id,
        'quiz_this_quarter' as rule,
        min(submitted_at) filter (where submitted_at > {{ as_of() }} - {{ hot_window }}) as qualified_at,
        min(submitted_at) as first_qualified_at,
        case
            when max(score) filter (where submitted_at > {{ as_of() }} - {{ hot_window }}) is not null
                then format(
                        {{ sql_text('quiz: buying ' ~ var('hot_quiz_timeline') | replace('_', ' ') ~ ', score %s') }},
                        max(score) filter (where submitted_at > {{ as_of() }} - {{ hot_window }})
                    )
        end as detail
    from quiz_hot_responses
    group by lead_id

),

unioned as (

    select * from request_hits
    union all
    select * from pricing_hits
    union all
    select * from cart_hits
    union all
    select * from quiz_hits

),

final as (

    select
        lead_id || ':conversion_qualified:' || rule as rule_hit_id,
        lead_id,
        'conversion_qualified' as qualification_type,
        rule,
        detail,
        qualified_at,
        first_qualified_at
    from unioned

)

select * from final
