{#
    Learned scoring (models/learning/). One definition of every feature a model may learn from, used for
    training (each lead at its cutoff) and for scoring (each lead at the run's as-of), so the two never
    drift apart. `cutoffs` names a CTE of (lead_id, cutoff_at); the result is long: one row per lead,
    cutoff and feature with value_num (numbers) or value_text (categories). Nothing dated after a lead's
    cutoff is read: signals, conversations and quiz answers count only up to it. CRM and account columns
    are the record as loaded (a CRM keeps no history of them); var learn_ignored_columns keeps out the ones
    that follow the outcome (status, owner) or identify a person.
    Signals give two features each: how many times (count) and days since the last one. Training counts
    events up to each cutoff; scoring (from_totals) reads the same counts from the incremental per-pair
    totals of int_lead_signal_totals, so applying a model costs per lead, not per event.
#}
{% macro point_in_time_features(cutoffs, from_totals=false) -%}
    {%- set ignored = var('learn_ignored_columns') -%}
    {%- set numeric_text = "'^\\s*[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?\\s*$'" -%}

    {% if from_totals -%}
    -- scoring: one cutoff (as_of) per lead. int_lead_signal_totals already holds each pair's count and last
    -- event (incrementally); pairs with events after the cutoff are recounted from their events
    signal_totals as (

        select
            totals.lead_id,
            {{ cutoffs }}.cutoff_at,
            totals.signal_name,
            totals.signal_count,
            totals.last_occurred_at
        from {{ ref('int_lead_signal_totals') }} as totals
        inner join {{ cutoffs }}
            on totals.lead_id = {{ cutoffs }}.lead_id
        where totals.signal_count > 0 and totals.last_occurred_at <= {{ cutoffs }}.cutoff_at
        union all
        select
            totals.lead_id,
            {{ cutoffs }}.cutoff_at,
            totals.signal_name,
            count(*) as signal_count,
            max(events.occurred_at) as last_occurred_at
        from {{ ref('int_lead_signal_totals') }} as totals
        inner join {{ cutoffs }}
            on totals.lead_id = {{ cutoffs }}.lead_id
        inner join {{ ref('int_lead_events') }} as events
            on
                totals.lead_id = events.lead_id
                and totals.signal_name = events.signal_name
                and events.occurred_at <= {{ cutoffs }}.cutoff_at
        where totals.last_occurred_at > {{ cutoffs }}.cutoff_at
        group by totals.lead_id, {{ cutoffs }}.cutoff_at, totals.signal_name
        union all
        select
            touch.lead_id,
            {{ cutoffs }}.cutoff_at,
            touch.signal_name,
            count(*) as signal_count,
            max(touch.occurred_at) as last_occurred_at
        from {{ ref('int_touch_signals') }} as touch
        inner join {{ cutoffs }}
            on touch.lead_id = {{ cutoffs }}.lead_id
        where touch.occurred_at <= {{ cutoffs }}.cutoff_at
        group by touch.lead_id, {{ cutoffs }}.cutoff_at, touch.signal_name

    ),
    {%- else -%}
    -- training: each lead at each of its cutoffs, counted from the events up to it
    signal_events as (

        {{ lead_signal_events() }}

    ),

    signal_totals as (

        select
            {{ cutoffs }}.lead_id,
            {{ cutoffs }}.cutoff_at,
            signal_events.signal_name,
            count(*) as signal_count,
            max(signal_events.occurred_at) as last_occurred_at
        from {{ cutoffs }}
        inner join signal_events
            on
                {{ cutoffs }}.lead_id = signal_events.lead_id
                and signal_events.occurred_at <= {{ cutoffs }}.cutoff_at
        group by {{ cutoffs }}.lead_id, {{ cutoffs }}.cutoff_at, signal_events.signal_name

    ),
    {%- endif %}

    -- per signal: how many times, and how many days since the last time
    signal_features as (

        select
            signal_totals.lead_id,
            signal_totals.cutoff_at,
            'signal:' || signal_totals.signal_name || ':' || measures.measure as feature,
            measures.value_num,
            cast(null as text) as value_text
        from signal_totals
        cross join lateral (
            values
            ('count', cast(signal_totals.signal_count as double precision)),
            (
                'days_since_last',
                date_part('epoch', signal_totals.cutoff_at - signal_totals.last_occurred_at) / 86400.0
            )
        ) as measures (measure, value_num)

    ),

    lead_emails as (

        select
            {{ cutoffs }}.lead_id,
            {{ cutoffs }}.cutoff_at,
            identities.identifier as email
        from {{ cutoffs }}
        inner join {{ ref('int_lead_identities') }} as identities
            on {{ cutoffs }}.lead_id = identities.lead_id
        where identities.identifier_type = 'email'

    ),

    conversation_rows as (

        select
            lead_emails.lead_id,
            lead_emails.cutoff_at,
            conversations.channel,
            conversations.outcome,
            conversations.topics,
            conversations.visitor_message_count,
            date_part('epoch', conversations.ended_at - conversations.started_at) / 60.0 as minutes
        from lead_emails
        inner join {{ ref('stg_conversations__conversations') }} as conversations
            on lead_emails.email = conversations.email
        where coalesce(conversations.ended_at, conversations.started_at) <= lead_emails.cutoff_at

    ),

    conversation_features as (

        select
            lead_id,
            cutoff_at,
            'conversation:max_visitor_messages' as feature,
            cast(max(visitor_message_count) as double precision) as value_num,
            cast(null as text) as value_text
        from conversation_rows
        group by lead_id, cutoff_at
        union all
        select
            lead_id,
            cutoff_at,
            'conversation:max_minutes' as feature,
            max(minutes) as value_num,
            cast(null as text) as value_text
        from conversation_rows
        group by lead_id, cutoff_at
        union all
        select
            conversation_rows.lead_id,
            conversation_rows.cutoff_at,
            'conversation:' || facts.kind || ':' || facts.fact as feature,
            cast(count(*) as double precision) as value_num,
            cast(null as text) as value_text
        from conversation_rows
        cross join lateral (
            select
                'channel' as kind,
                conversation_rows.channel as fact
            union all
            select
                'outcome' as kind,
                conversation_rows.outcome as fact
            union all
            select
                'topic' as kind,
                lower(topic.value) as fact
            from jsonb_array_elements_text(conversation_rows.topics) as topic (value)
        ) as facts
        where facts.fact is not null
        group by conversation_rows.lead_id, conversation_rows.cutoff_at, facts.kind, facts.fact

    ),

    latest_quiz as (

        select distinct on (lead_emails.lead_id, lead_emails.cutoff_at)
            lead_emails.lead_id,
            lead_emails.cutoff_at,
            quiz.role,
            quiz.team_size,
            quiz.current_tooling,
            quiz.use_case,
            quiz.timeline,
            quiz.budget_range,
            quiz.score
        from lead_emails
        inner join {{ ref('stg_quiz__responses') }} as quiz
            on lead_emails.email = quiz.email
        where quiz.submitted_at <= lead_emails.cutoff_at
        order by lead_emails.lead_id, lead_emails.cutoff_at, quiz.submitted_at desc, quiz.response_id desc

    ),

    quiz_features as (

        select
            latest_quiz.lead_id,
            latest_quiz.cutoff_at,
            'quiz:' || answers.question as feature,
            answers.value_num,
            answers.value_text
        from latest_quiz
        cross join lateral (
            values
            ('role', cast(null as double precision), latest_quiz.role),
            ('team_size', null, latest_quiz.team_size),
            ('current_tooling', null, latest_quiz.current_tooling),
            ('use_case', null, latest_quiz.use_case),
            ('timeline', null, latest_quiz.timeline),
            ('budget_range', null, latest_quiz.budget_range),
            ('score', cast(latest_quiz.score as double precision), null)
        ) as answers (question, value_num, value_text)
        where answers.value_num is not null or answers.value_text is not null

    ),

    lead_rows as (

        select
            {{ cutoffs }}.lead_id,
            {{ cutoffs }}.cutoff_at,
            leads.crm_lead_id,
            leads.lead_source,
            leads.is_business_email,
            fit.account_id,
            fit.seniority,
            fit.company_size_band,
            fit.industry,
            fit.country,
            fit.employee_count,
            fit.is_decision_maker,
            date_part('epoch', {{ cutoffs }}.cutoff_at - leads.created_at) / 86400.0 as age_days
        from {{ cutoffs }}
        inner join {{ ref('int_leads_resolved') }} as leads
            on {{ cutoffs }}.lead_id = leads.lead_id
        left join {{ ref('int_leads_fit_scored') }} as fit
            on {{ cutoffs }}.lead_id = fit.lead_id

    ),

    attribute_features as (

        select
            lead_rows.lead_id,
            lead_rows.cutoff_at,
            attributes.feature,
            attributes.value_num,
            attributes.value_text
        from lead_rows
        cross join lateral (
            values
            ('lead:lead_source', cast(null as double precision), lead_rows.lead_source),
            ('lead:seniority', null, lead_rows.seniority),
            ('lead:company_size_band', null, lead_rows.company_size_band),
            ('lead:country', null, lower(lead_rows.country)),
            ('lead:business_email', null, cast(lead_rows.is_business_email as text)),
            ('lead:decision_maker', null, cast(lead_rows.is_decision_maker as text)),
            ('lead:age_days', lead_rows.age_days, null),
            ('account:industry', null, lower(lead_rows.industry)),
            ('account:employee_count', cast(lead_rows.employee_count as double precision), null)
        ) as attributes (feature, value_num, value_text)
        where attributes.value_num is not null or attributes.value_text is not null

    ),

    -- columns an export brought beyond the contract (schema drift), on the lead's CRM record and its account
    extra_values as (

        select
            lead_rows.lead_id,
            lead_rows.cutoff_at,
            'crm:' || extra.key as feature,
            extra.value
        from lead_rows
        inner join {{ source('crm', 'leads') }} as crm_leads
            on lead_rows.crm_lead_id = crm_leads.lead_id
        cross join lateral jsonb_each_text(to_jsonb(crm_leads)) as extra (key, value)
        where
            extra.key not in {{ sql_list(contract_columns('stg_crm__leads') + ignored) }}
            and extra.key not like '\_%'
        union all
        select
            lead_rows.lead_id,
            lead_rows.cutoff_at,
            'account:' || extra.key as feature,
            extra.value
        from lead_rows
        inner join {{ source('crm', 'accounts') }} as crm_accounts
            on lead_rows.account_id = crm_accounts.account_id
        cross join lateral jsonb_each_text(to_jsonb(crm_accounts)) as extra (key, value)
        where
            extra.key not in {{ sql_list(contract_columns('stg_crm__accounts') + ignored) }}
            and extra.key not like '\_%'

    ),

    extra_features as (

        select
            lead_id,
            cutoff_at,
            feature,
            case when value ~ {{ numeric_text }} then cast(value as double precision) end as value_num,
            lower(trim(value)) as value_text
        from extra_values
        where nullif(trim(value), '') is not null

    ),

    point_in_time_features as (

        select * from signal_features
        union all
        select * from conversation_features
        union all
        select * from quiz_features
        union all
        select * from attribute_features
        union all
        select * from extra_features

    )
{%- endmacro %}

{#
    The columns of a raw table that the contract already covers: those its staging model selects under the
    same name (read from the built view when the model runs). The rest, beside the loader's lineage
    columns (_batch_id, ...), are an export's extra columns (schema drift).
#}
{% macro contract_columns(staging_model) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(ref(staging_model)) -%}
    {{ return(columns | map(attribute='name') | list) }}
{%- endmacro %}

{#
    One learned contribution in words: the feature without its family prefix, its bin, and the points it
    adds to the log-odds, e.g. "lead_source is lead add form: +1.9", "page_view count 12 to below 20: +0.8".
#}
{% macro learned_contribution_text(feature, bin_label, points) -%}
    format(
        '%s%s %s: %s',
        replace(regexp_replace({{ feature }}, '^(signal|crm|lead|account|quiz|conversation):', ''), ':', ' '),
        case when {{ bin_label }} ~ '^(below |[-0-9.e+]+ (to|or) |no value)' then '' else ' is' end,
        {{ bin_label }},
        to_char({{ points }}, 'FMS990.0')
    )
{%- endmacro %}

{# Every signal of a lead with its time: behaviour (int_lead_events) and conversations and quiz answers (int_touch_signals). #}
{% macro lead_signal_events() -%}
    select
        lead_id,
        signal_name,
        occurred_at
    from {{ ref('int_lead_events') }}
    where lead_id is not null
    union all
    select
        lead_id,
        signal_name,
        occurred_at
    from {{ ref('int_touch_signals') }}
{%- endmacro %}
