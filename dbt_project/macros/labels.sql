{# Readable words for signals, used in qualification reasons ("requested a demo"). #}
{% macro signal_label(column) -%}
    case {{ column }}
        when 'demo_request' then 'requested a demo'
        when 'quote_request' then 'requested a quote'
        when 'meeting_request' then 'requested a meeting'
        when 'pricing_inquiry' then 'asked about pricing'
        when 'pricing_view' then 'viewed pricing'
        when 'page_view' then 'page views'
        when 'form_fill' then 'form fills'
        when 'email_open' then 'email opens'
        when 'email_click' then 'email clicks'
        when 'content_download' then 'content downloads'
        when 'webinar_registered' then 'webinar registrations'
        when 'webinar_attended' then 'webinars attended'
        when 'newsletter_subscribed' then 'newsletter subscription'
        when 'conversation' then 'conversations'
        when 'quiz_submitted' then 'quiz submitted'
        when 'demo_booked' then 'booked a demo in a conversation'
        when 'meeting_booked' then 'booked a meeting in a conversation'
        when 'quote_requested' then 'requested a quote in a conversation'
        else replace({{ column }}, '_', ' ')
    end
{%- endmacro %}

{# An ISO-8601 UTC text for a timestamptz, independent of the session time zone (stable payload hashes). #}
{% macro utc_iso(column) -%}
    to_char({{ column }} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
{%- endmacro %}

{# Decay factor of an event at `occurred_at`: 0.5 ^ (age in days / half-life), as of the run. #}
{% macro decay_factor(occurred_at) -%}
    power(
        0.5::double precision,
        extract(epoch from ({{ as_of() }} - {{ occurred_at }}))::double precision
        / (86400.0 * {{ var('decay_half_life_days') }})
    )
{%- endmacro %}
