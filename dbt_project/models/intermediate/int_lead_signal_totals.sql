{#
    Incremental, one row per lead × behavioural signal, independent of as_of: how many events, and the
    sum of their growth 2^((occurred_at - decay_epoch) / half-life). Decay factors out:
        sum(points * 0.5^((as_of - t) / h)) = points * 0.5^((as_of - decay_epoch) / h) * sum(2^((t - decay_epoch) / h))
    so the decayed points at any as_of are one multiplication (int_score_contributions).
    An incremental run recomputes only the lead × signal pairs whose events were written since the last
    run (new events, re-attributed events and the leads they left), from those pairs' events; pairs
    computed with another half-life or epoch (settings_hash) are recomputed too. Growth is summed as
    numeric, so the totals do not depend on the order rows are added in.
#}
{%- set current_hash = settings_hash(['decay_half_life_days', 'decay_epoch']) %}
{{
    config(
        materialized='incremental',
        unique_key='lead_signal_id',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['lead_signal_id'], 'unique': true}, {'columns': ['updated_at']}],
    )
}}

with

events as (

    select * from {{ ref('int_lead_events') }}
    where lead_id is not null

),

{% if is_incremental() -%}
written as (

    select
        lead_id,
        previous_lead_id,
        signal_name
    from {{ ref('int_lead_events') }}
    where attributed_at > {{ watermark_literal('updated_at') }}

),

touched as (

    select
        lead_id,
        signal_name
    from written
    where lead_id is not null

    union

    -- a re-attributed event leaves its previous lead: recompute every signal of that lead
    select
        this.lead_id,
        this.signal_name
    from {{ this }} as this
    where this.lead_id in (select written.previous_lead_id from written where written.previous_lead_id is not null)

    union

    select
        lead_id,
        signal_name
    from {{ this }}
    where settings_hash <> {{ current_hash }}

),

touched_events as (

    select
        touched.lead_id,
        touched.signal_name,
        events.signal_id,
        events.occurred_at
    from touched
    -- a lateral index lookup per touched pair (index on int_lead_events (signal_name, lead_id))
    left join lateral (
        select
            pair_events.signal_id,
            pair_events.occurred_at
        from events as pair_events
        where
            pair_events.lead_id = touched.lead_id
            and pair_events.signal_name = touched.signal_name
    ) as events on true

),
{%- else -%}
touched_events as (

    select
        lead_id,
        signal_name,
        signal_id,
        occurred_at
    from events

),
{%- endif %}

final as (

    select
        lead_id || ':' || signal_name as lead_signal_id,
        lead_id,
        signal_name,
        count(signal_id) as signal_count,
        coalesce(sum(cast({{ decay_growth('occurred_at') }} as numeric)), 0) as growth_sum,
        min(occurred_at) as first_occurred_at,
        max(occurred_at) as last_occurred_at,
        {{ current_hash }} as settings_hash,
        cast('{{ run_started_at }}' as timestamptz) as updated_at
    from touched_events
    group by lead_id, signal_name

)

select * from final
