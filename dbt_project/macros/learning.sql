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
    {{ learning_feature_sources(cutoffs, from_totals) }},

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
            ('count', {{ learning_signal_measure('count', 'signal_totals') }}),
            ('days_since_last', {{ learning_signal_measure('days_since_last', 'signal_totals') }})
        ) as measures (measure, value_num)

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

    session_features as (

        select
            session_totals.lead_id,
            session_totals.cutoff_at,
            measures.feature,
            measures.value_num,
            cast(null as text) as value_text
        from session_totals
        cross join lateral (
            values
            {%- for measure in learning_session_measures() %}
            ('{{ measure[0] }}', session_totals.session_measure_{{ loop.index }}){{ ',' if not loop.last }}
            {%- endfor %}
        ) as measures (feature, value_num)
        where measures.value_num is not null

    ),

    quiz_features as (

        select
            latest_quiz.lead_id,
            latest_quiz.cutoff_at,
            answers.feature,
            answers.value_num,
            answers.value_text
        from latest_quiz
        cross join lateral ({{ learning_feature_values(learning_quiz_answers()) }}) as answers (feature, value_num, value_text)
        where answers.value_num is not null or answers.value_text is not null

    ),

    attribute_features as (

        select
            lead_rows.lead_id,
            lead_rows.cutoff_at,
            attributes.feature,
            attributes.value_num,
            attributes.value_text
        from lead_rows
        cross join lateral ({{ learning_feature_values(learning_lead_attributes()) }}) as attributes (feature, value_num, value_text)
        where attributes.value_num is not null or attributes.value_text is not null

    ),

    -- columns an export brought beyond the contract (schema drift), on the lead's CRM record and its account
    {%- set lead_extras = learning_extra_columns(source('crm', 'leads'), 'stg_crm__leads') %}
    {%- set account_extras = learning_extra_columns(source('crm', 'accounts'), 'stg_crm__accounts') %}
    extra_values as (

        select
            cast(null as text) as lead_id,
            cast(null as timestamptz) as cutoff_at,
            cast(null as text) as feature,
            cast(null as text) as value
        where false
        {%- if lead_extras %}
        union all
        select
            lead_rows.lead_id,
            lead_rows.cutoff_at,
            extra.feature,
            extra.value
        from lead_rows
        inner join {{ source('crm', 'leads') }} as crm_leads
            on lead_rows.crm_lead_id = crm_leads.lead_id
        cross join lateral (
            values
            {%- for column in lead_extras %}
            ('crm:{{ column }}', {{ learning_extra_text('crm_leads', column) }}){{ ',' if not loop.last }}
            {%- endfor %}
        ) as extra (feature, value)
        {%- endif %}
        {%- if account_extras %}
        union all
        select
            lead_rows.lead_id,
            lead_rows.cutoff_at,
            extra.feature,
            extra.value
        from lead_rows
        inner join {{ source('crm', 'accounts') }} as crm_accounts
            on lead_rows.account_id = crm_accounts.account_id
        cross join lateral (
            values
            {%- for column in account_extras %}
            ('account:{{ column }}', {{ learning_extra_text('crm_accounts', column) }}){{ ',' if not loop.last }}
            {%- endfor %}
        ) as extra (feature, value)
        {%- endif %}

    ),

    extra_features as (

        select
            lead_id,
            cutoff_at,
            feature,
            {{ learning_extra_value('value', 'numeric') }} as value_num,
            {{ learning_extra_value('value', 'categorical') }} as value_text
        from extra_values
        where nullif(trim(value), '') is not null

    ),

    point_in_time_features as (

        select * from signal_features
        union all
        select * from conversation_features
        union all
        select * from session_features
        union all
        select * from quiz_features
        union all
        select * from attribute_features
        union all
        select * from extra_features

    )
{%- endmacro %}

{#
    What the features are read from, per lead and cutoff (`cutoffs`: a CTE of lead_id, cutoff_at; with
    from_totals, scoring, every cutoff is the run's as-of and signal_totals may hold leads beyond them): CTEs
    signal_totals (lead, signal: count and last time, up to the cutoff), conversation_rows, session_totals
    (time on site), latest_quiz and lead_rows (the lead's CRM and fit attributes). Shared by the long form (point_in_time_features: training,
    and learn_lead_features) and the wide form (learned_feature_vectors: applying the active model).
#}
{% macro learning_feature_sources(cutoffs, from_totals=false) -%}
    {% if from_totals -%}
    -- scoring: every lead's cutoff is the run's as-of. int_lead_signal_totals already holds each pair's
    -- count and last event (incrementally); pairs with events after the as-of are recounted from their events
    signal_totals as (

        select
            lead_id,
            {{ as_of() }} as cutoff_at,
            signal_name,
            signal_count,
            last_occurred_at
        from ({{ event_signal_totals_as_of() }}) as event_totals
        union all
        select
            lead_id,
            {{ as_of() }} as cutoff_at,
            signal_name,
            count(*) as signal_count,
            max(occurred_at) as last_occurred_at
        from {{ ref('int_touch_signals') }}
        where occurred_at <= {{ as_of() }}
        group by lead_id, signal_name

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

    -- visits with their time on site (web sessions, an optional entity), up to the cutoff
    session_totals as (

        select
            {{ cutoffs }}.lead_id,
            {{ cutoffs }}.cutoff_at
            {%- for measure in learning_session_measures() %},
            cast({{ measure[1] }} as double precision) as session_measure_{{ loop.index }}
            {%- endfor %}
        from {{ cutoffs }}
        inner join {{ ref('int_web_sessions') }} as sessions
            on {{ cutoffs }}.lead_id = sessions.lead_id
        where sessions.started_at <= {{ cutoffs }}.cutoff_at
        group by {{ cutoffs }}.lead_id, {{ cutoffs }}.cutoff_at

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

    )
{%- endmacro %}

{# A signal's two features from a signal_totals row: how many times, days since the last time. #}
{% macro learning_signal_measure(measure, totals) -%}
    {%- if measure == 'count' -%}
        cast({{ totals }}.signal_count as double precision)
    {%- else -%}
        date_part('epoch', {{ totals }}.cutoff_at - {{ totals }}.last_occurred_at) / 86400.0
    {%- endif -%}
{%- endmacro %}

{# A lead's web sessions up to the cutoff: [feature, aggregate over its sessions]. #}
{% macro learning_session_measures() -%}
    {{ return([
        ['web:minutes_on_site', 'sum(sessions.duration_seconds) / 60.0'],
        ['web:longest_session_minutes', 'max(sessions.duration_seconds) / 60.0'],
        ['web:session_page_views', 'sum(sessions.page_views)'],
    ]) }}
{%- endmacro %}

{#
    Each lead's event signals (int_lead_events) as of the run: per pair, how many and when the last one,
    from the incremental per-pair totals of int_lead_signal_totals; a pair whose last event is after the
    as-of (a run for an earlier day) is recounted from its events. Columns lead_id, signal_name,
    signal_count, last_occurred_at. Applying a learned model and MQL by learned score read it.
#}
{% macro event_signal_totals_as_of() -%}
    select
        lead_id,
        signal_name,
        signal_count,
        last_occurred_at
    from {{ ref('int_lead_signal_totals') }}
    where signal_count > 0 and last_occurred_at <= {{ as_of() }}
    union all
    select
        totals.lead_id,
        totals.signal_name,
        count(*) as signal_count,
        max(events.occurred_at) as last_occurred_at
    from {{ ref('int_lead_signal_totals') }} as totals
    inner join {{ ref('int_lead_events') }} as events
        on
            totals.lead_id = events.lead_id
            and totals.signal_name = events.signal_name
            and events.occurred_at <= {{ as_of() }}
    where totals.signal_count > 0 and totals.last_occurred_at > {{ as_of() }}
    group by totals.lead_id, totals.signal_name
{%- endmacro %}

{# The lead's and its account's attributes: [feature, number, text] over lead_rows (one of the two is null). #}
{% macro learning_lead_attributes() -%}
    {{ return([
        ['lead:lead_source', none, 'lead_rows.lead_source'],
        ['lead:seniority', none, 'lead_rows.seniority'],
        ['lead:company_size_band', none, 'lead_rows.company_size_band'],
        ['lead:country', none, 'lower(lead_rows.country)'],
        ['lead:business_email', none, 'cast(lead_rows.is_business_email as text)'],
        ['lead:decision_maker', none, 'cast(lead_rows.is_decision_maker as text)'],
        ['lead:age_days', 'lead_rows.age_days', none],
        ['account:industry', none, 'lower(lead_rows.industry)'],
        ['account:employee_count', 'lead_rows.employee_count', none],
    ]) }}
{%- endmacro %}

{# The latest quiz answers before the cutoff: [feature, number, text] over latest_quiz. #}
{% macro learning_quiz_answers() -%}
    {{ return([
        ['quiz:role', none, 'latest_quiz.role'],
        ['quiz:team_size', none, 'latest_quiz.team_size'],
        ['quiz:current_tooling', none, 'latest_quiz.current_tooling'],
        ['quiz:use_case', none, 'latest_quiz.use_case'],
        ['quiz:timeline', none, 'latest_quiz.timeline'],
        ['quiz:budget_range', none, 'latest_quiz.budget_range'],
        ['quiz:score', 'latest_quiz.score', none],
    ]) }}
{%- endmacro %}

{# [feature, number, text] items as a VALUES list of (feature, value_num, value_text). #}
{% macro learning_feature_values(items) -%}
    values
    {%- for item in items %}
    ('{{ item[0] }}', cast({{ item[1] or 'null' }} as double precision), cast({{ item[2] or 'null' }} as text))
    {{- ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#
    An export's extra columns on a raw CRM table (schema drift): every column but the ones its staging model
    covers, the loader's lineage columns (_batch_id, ...) and var learn_ignored_columns.
#}
{% macro learning_extra_columns(raw_relation, staging_model) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set covered = contract_columns(staging_model) + var('learn_ignored_columns') -%}
    {%- set extras = [] -%}
    {%- for column in adapter.get_columns_in_relation(raw_relation) -%}
        {%- if column.name not in covered and not column.name.startswith('_') -%}
            {%- do extras.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(extras) }}
{%- endmacro %}

{# An extra column's value as text, as JSON renders it (numbers and times alike, whatever the column's type). #}
{% macro learning_extra_text(table, column) -%}
    to_jsonb({{ table }}.{{ adapter.quote(column) }}) #>> '{}'
{%- endmacro %}

{# An extra column's text as a number (when it reads as one) or as a category (trimmed, lower case). #}
{% macro learning_extra_value(text, kind) -%}
    {%- if kind == 'numeric' -%}
        case
            when {{ text }} ~ '^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$'
                then cast({{ text }} as double precision)
        end
    {%- else -%}
        nullif(lower(trim({{ text }})), '')
    {%- endif -%}
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

{#
    The active learned model's points, as dbt applies them: one row per feature and bin of
    ops.score_model_points (model_id, feature, bin_id, bin_kind, lower_bound, category, points; numbers as
    exact text), features in byte order. Read when the model compiles, so applying a model is plain
    arithmetic on per-lead arrays (learn_lead_feature_vectors, learn_lead_predictions). Empty while no
    model is active. `make lint-sql` gets a small sample model so the applying SQL is linted too.
#}
{% macro learned_model_points() -%}
    {%- if lint_incremental() -%}
        {{ return([
            {'model_id': 'lint', 'feature': 'crm:lint_extra', 'bin_id': 1, 'bin_kind': 'category', 'lower_bound': none, 'category': "it's", 'points': '0.5'},
            {'model_id': 'lint', 'feature': 'lead:age_days', 'bin_id': 0, 'bin_kind': 'missing', 'lower_bound': none, 'category': none, 'points': '-0.1'},
            {'model_id': 'lint', 'feature': 'lead:age_days', 'bin_id': 1, 'bin_kind': 'range', 'lower_bound': none, 'category': none, 'points': '0.1'},
            {'model_id': 'lint', 'feature': 'lead:age_days', 'bin_id': 2, 'bin_kind': 'range', 'lower_bound': '3', 'category': none, 'points': '0.2'},
            {'model_id': 'lint', 'feature': 'conversation:max_minutes', 'bin_id': 1, 'bin_kind': 'range', 'lower_bound': none, 'category': none, 'points': '0.3'},
            {'model_id': 'lint', 'feature': 'conversation:channel:chat', 'bin_id': 1, 'bin_kind': 'range', 'lower_bound': none, 'category': none, 'points': '0.3'},
            {'model_id': 'lint', 'feature': 'conversation:topic:pricing', 'bin_id': 1, 'bin_kind': 'range', 'lower_bound': none, 'category': none, 'points': '0.3'},
            {'model_id': 'lint', 'feature': 'web:minutes_on_site', 'bin_id': 1, 'bin_kind': 'range', 'lower_bound': none, 'category': none, 'points': '0.3'},
            {'model_id': 'lint', 'feature': 'quiz:role', 'bin_id': 1, 'bin_kind': 'other', 'lower_bound': none, 'category': none, 'points': '0.3'},
            {'model_id': 'lint', 'feature': 'signal:page_view:count', 'bin_id': 1, 'bin_kind': 'range', 'lower_bound': none, 'category': none, 'points': '0.3'},
        ]) }}
    {%- endif -%}
    {%- set tables = [source('ops', 'score_model_points'), source('ops', 'score_models')] -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- for table in tables -%}
        {%- if adapter.get_relation(table.database, table.schema, table.identifier) is none -%}
            {{ return([]) }}  {#- a warehouse where leadflow has not run yet: no model #}
        {%- endif -%}
    {%- endfor -%}
    {%- set query -%}
        select
            points.model_id,
            points.feature,
            points.bin_id,
            points.bin_kind,
            cast(points.lower_bound as text) as lower_bound,
            points.category,
            cast(points.points as text) as points
        from {{ source('ops', 'score_model_points') }} as points
        where points.model_id = (
            select model_id from {{ source('ops', 'score_models') }}
            where status = 'active' order by activated_at desc limit 1
        )
        order by points.feature collate "C", points.bin_id
    {%- endset -%}
    {%- set rows = [] -%}
    {%- for row in run_query(query) -%}
        {%- do rows.append({
            'model_id': row['model_id'], 'feature': row['feature'], 'bin_id': row['bin_id'] | int,
            'bin_kind': row['bin_kind'], 'lower_bound': row['lower_bound'], 'category': row['category'],
            'points': row['points'],
        }) -%}
    {%- endfor -%}
    {{ return(rows) }}
{%- endmacro %}

{#
    learned_model_points() grouped per feature (in its order): kind (categorical when it has categories),
    missing (its missing bin's points), points (by bin_id, 1-based; null where a bin is absent), edges
    (a numeric feature's inner cut points, ascending), categories ([category, bin_id]) and other_bin.
#}
{% macro learned_model_features(points) -%}
    {%- set features = [] -%}
    {%- set by_name = {} -%}
    {%- for row in points -%}
        {%- if row['feature'] not in by_name -%}
            {%- set entry = {'feature': row['feature'], 'kind': 'numeric', 'missing': '0', 'bins': {},
                             'edges': [], 'categories': [], 'other_bin': none} -%}
            {%- do by_name.update({row['feature']: entry}) -%}
            {%- do features.append(entry) -%}
        {%- endif -%}
        {%- set entry = by_name[row['feature']] -%}
        {%- set bin_id = row['bin_id'] | int -%}
        {%- if row['bin_kind'] == 'missing' -%}
            {%- do entry.update({'missing': row['points']}) -%}
        {%- else -%}
            {%- do entry['bins'].update({bin_id: row['points']}) -%}
        {%- endif -%}
        {%- if row['bin_kind'] == 'range' and row.get('lower_bound') is not none -%}
            {%- do entry['edges'].append(row.get('lower_bound')) -%}
        {%- elif row['bin_kind'] == 'category' -%}
            {%- do entry.update({'kind': 'categorical'}) -%}
            {%- do entry['categories'].append([row.get('category'), bin_id]) -%}
        {%- elif row['bin_kind'] == 'other' -%}
            {%- do entry.update({'kind': 'categorical', 'other_bin': bin_id}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for entry in features -%}
        {%- set slots = [] -%}
        {%- for bin_id in range(1, (entry['bins'].keys() | list | max if entry['bins'] else 0) + 1) -%}
            {%- do slots.append(entry['bins'].get(bin_id, 'null')) -%}
        {%- endfor -%}
        {%- do entry.update({'points': slots}) -%}
    {%- endfor -%}
    {{ return(features) }}
{%- endmacro %}

{#
    Applying a model, step 1: each lead's value of every feature the model uses, as of `cutoffs`, one
    column per feature in the model's feature order (feature_1, ...: a number for a numeric feature, text
    for a categorical one; null = the lead has no value). The same sources and the same expressions as
    point_in_time_features, one row per lead instead of one per lead and feature. Defines the CTE
    feature_vectors. (Columns, not arrays: reading element i of an array with nulls walks it from the start.)
#}
{% macro learned_feature_vectors(cutoffs, features) -%}
    {%- set lead_extras = learning_extra_columns(source('crm', 'leads'), 'stg_crm__leads') -%}
    {%- set account_extras = learning_extra_columns(source('crm', 'accounts'), 'stg_crm__accounts') -%}
    {%- set attributes = {} -%}
    {%- for item in learning_lead_attributes() + learning_quiz_answers() -%}
        {%- do attributes.update({item[0]: item}) -%}
    {%- endfor -%}
    {%- set session_measures = {} -%}
    {%- for measure in learning_session_measures() -%}
        {%- do session_measures.update({measure[0]: loop.index}) -%}
    {%- endfor -%}
    {%- set signals = [] -%}
    {%- set conversation = [] -%}
    {%- set expressions = [] -%}
    {%- for f in features -%}
        {%- set name = f['feature'] -%}
        {%- set numeric = f['kind'] == 'numeric' -%}
        {%- set column = 'feature_' ~ loop.index -%}
        {%- set parts = name.split(':', 2) -%}
        {%- set expression = 'null' -%}
        {%- if name in attributes -%}
            {%- set expression = (attributes[name][1] if numeric else attributes[name][2]) or 'null' -%}
        {%- elif parts[0] == 'signal' and name.count(':') >= 2 and numeric -%}
            {%- set signal = name[7:].rsplit(':', 1) -%}
            {%- do signals.append([column, signal[0], signal[1]]) -%}
            {%- set expression = 'signal_wide.' ~ column -%}
        {%- elif parts[0] == 'conversation' and numeric and (parts | length == 3 or name in (
            'conversation:max_visitor_messages', 'conversation:max_minutes')) -%}
            {%- do conversation.append([column, parts]) -%}
            {%- set expression = 'conversation_wide.' ~ column -%}
        {%- elif name in session_measures and numeric -%}
            {%- set expression = 'session_totals.session_measure_' ~ session_measures[name] -%}
        {%- elif parts[0] == 'crm' and name[4:] in lead_extras -%}
            {%- set expression = learning_extra_value(learning_extra_text('crm_leads', name[4:]), f['kind']) -%}
        {%- elif parts[0] == 'account' and name[8:] in account_extras -%}
            {%- set expression = learning_extra_value(learning_extra_text('crm_accounts', name[8:]), f['kind']) -%}
        {%- endif -%}
        {%- do expressions.append(
            'cast(' ~ expression ~ ' as ' ~ ('double precision' if numeric else 'text') ~ ')'
        ) -%}
    {%- endfor -%}
    {{ learning_feature_sources(cutoffs, from_totals=true) }},

    signal_wide as (

        select
            signal_totals.lead_id,
            signal_totals.cutoff_at
            {%- for column, signal, measure in signals %},
            max({{ learning_signal_measure(measure, 'signal_totals') }})
                filter (where signal_totals.signal_name = '{{ signal }}') as {{ column }}
            {%- endfor %}
        from signal_totals
        group by signal_totals.lead_id, signal_totals.cutoff_at

    ),

    conversation_topics as materialized (

        select
            conversation_rows.*,
            array(
                select lower(topic.value) from jsonb_array_elements_text(conversation_rows.topics) as topic (value)
            ) as topic_list
        from conversation_rows

    ),

    conversation_wide as (

        select
            conversation_topics.lead_id,
            conversation_topics.cutoff_at
            {%- for column, parts in conversation %},
            {% if parts[1] == 'max_visitor_messages' -%}
            cast(max(conversation_topics.visitor_message_count) as double precision)
            {%- elif parts[1] == 'max_minutes' -%}
            max(conversation_topics.minutes)
            {%- elif parts[1] == 'topic' -%}
            cast(nullif(sum(cardinality(array_positions(
                conversation_topics.topic_list, '{{ parts[2] | replace("'", "''") }}'
            ))), 0) as double precision)
            {%- elif parts[1] in ('channel', 'outcome') -%}
            cast(nullif(count(*) filter (
                where conversation_topics.{{ parts[1] }} = '{{ parts[2] | replace("'", "''") }}'
            ), 0) as double precision)
            {%- else -%}
            cast(null as double precision)
            {%- endif %} as {{ column }}
            {%- endfor %}
        from conversation_topics
        group by conversation_topics.lead_id, conversation_topics.cutoff_at

    ),

    feature_vectors as (

        select
            lead_rows.lead_id
            {%- for expression in expressions %},
            {{ expression }} as feature_{{ loop.index }}
            {%- endfor %}
        from lead_rows
        left join signal_wide
            on lead_rows.lead_id = signal_wide.lead_id and lead_rows.cutoff_at = signal_wide.cutoff_at
        left join conversation_wide
            on lead_rows.lead_id = conversation_wide.lead_id and lead_rows.cutoff_at = conversation_wide.cutoff_at
        left join latest_quiz
            on lead_rows.lead_id = latest_quiz.lead_id and lead_rows.cutoff_at = latest_quiz.cutoff_at
        left join session_totals
            on lead_rows.lead_id = session_totals.lead_id and lead_rows.cutoff_at = session_totals.cutoff_at
        left join {{ source('crm', 'leads') }} as crm_leads
            on lead_rows.crm_lead_id = crm_leads.lead_id
        left join {{ source('crm', 'accounts') }} as crm_accounts
            on lead_rows.account_id = crm_accounts.account_id

    )
{%- endmacro %}

{#
    Applying a model, step 2: the bin a lead's value falls in for one feature (null when it has no value):
    numeric values by the feature's inner edges (bin 1 is below the first; a value equal to an edge belongs
    to the bin it starts), categories by name, any other category to the 'other' bin.
#}
{% macro learned_bin(feature, value) -%}
    {%- if feature['kind'] == 'numeric' -%}
        case when {{ value }} is not null then 1
        {%- if feature['edges'] %} + coalesce(width_bucket({{ value }}, cast('{{ '{' ~ feature['edges'] | join(',') ~ '}' }}' as double precision[])), 0)
        {%- endif %} end
    {%- else -%}
        case when {{ value }} is null then null
        {%- for category, bin_id in feature['categories'] %} when {{ value }} = '{{ category | replace("'", "''") }}' then {{ bin_id }}
        {%- endfor %} else {{ feature['other_bin'] if feature['other_bin'] is not none else 'null' }} end
    {%- endif -%}
{%- endmacro %}

{# Step 3: the points of a feature's bin against a lead without the feature (null: no contribution). #}
{% macro learned_points(feature, bin) -%}
    (cast('{{ '{' ~ feature['points'] | join(',') ~ '}' }}' as double precision[]))[{{ bin }}] - cast('{{ feature['missing'] }}' as double precision)
{%- endmacro %}

{#
    The contributions of `predictions` (a relation or CTE with learn_lead_predictions' columns), one row
    per lead and feature it has: the per-lead arrays unfolded against the active model's features (in the
    same byte order as learned_model_points) and their bins' labels. learn_lead_contributions is this over
    every lead; learn_lead_reasons takes each qualified lead's `top` largest of at least `min_points`.
#}
{% macro learned_contributions(predictions, min_points=none, top=none) -%}
    select
        {{ predictions }}.lead_id || ':' || model_features.feature as learned_contribution_id,
        {{ predictions }}.lead_id,
        {{ predictions }}.model_id,
        model_features.feature,
        points.label as bin_label,
        contributions.points
    from {{ predictions }}
    cross join lateral (
        select
            unfolded.points,
            unfolded.bin_id,
            unfolded.feature_index
        from unnest({{ predictions }}.contribution_points, {{ predictions }}.contribution_bins)
            with ordinality as unfolded (points, bin_id, feature_index)
        where
            unfolded.points is not null
            {%- if min_points is not none %} and unfolded.points >= {{ min_points }}{% endif %}
        {%- if top %}
        order by unfolded.points desc, unfolded.feature_index asc
        limit {{ top }}
        {%- endif %}
    ) as contributions
    inner join (
        -- the active model's features, numbered in the order of its arrays
        select
            points.feature,
            row_number() over (order by points.feature collate "C") as feature_index
        from {{ source('ops', 'score_model_points') }} as points
        inner join {{ ref('learn_active_model') }} as active_model
            on points.model_id = active_model.model_id
        group by points.feature
    ) as model_features
        on contributions.feature_index = model_features.feature_index
    inner join {{ source('ops', 'score_model_points') }} as points
        on
            {{ predictions }}.model_id = points.model_id
            and model_features.feature = points.feature
            and contributions.bin_id = points.bin_id
{%- endmacro %}
