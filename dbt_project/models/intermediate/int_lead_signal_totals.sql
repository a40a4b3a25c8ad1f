{#
    Incremental, one row per lead × behavioural signal, independent of as_of: how many events, and the
    sum of their growth 2^((occurred_at - decay_epoch) / half-life). Decay factors out:
        sum(points * 0.5^((as_of - t) / h)) = points * 0.5^((as_of - decay_epoch) / h) * sum(2^((t - decay_epoch) / h))
    so the decayed points at any as_of are one multiplication (int_score_contributions).
    An incremental run touches only the lead × signal pairs whose events were written since the last run.
    A pair that only gained new events (is_first_write) gets them added to its totals: the cost follows the
    new events, not the pair's history. A pair with a re-written or re-attributed event, every signal of a
    lead that events left, and pairs computed with another half-life or epoch (settings_hash) are recounted
    from all their events. Growth is summed as numeric, so the totals do not depend on the order rows are
    added in, and adding equals recounting.
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
        signal_name,
        signal_id,
        occurred_at,
        is_first_write
    from {{ ref('int_lead_events') }}
    where {{ written_since_last_run('attributed_at', 'updated_at') }}

),

-- pairs whose history changed are recounted from all their events: a re-written event (re-read or
-- re-attributed), every signal of a lead events left, and pairs built with other decay settings
recounted_pairs as (

    select
        lead_id,
        signal_name
    from written
    where lead_id is not null and not coalesce(is_first_write, false)
    union
    select
        this.lead_id,
        this.signal_name
    from {{ this }} as this
    where this.lead_id in (
            select written.previous_lead_id
            from written
            where written.previous_lead_id is not null
        )
    union
    {{ keys_built_with_other_settings('lead_id, signal_name', current_hash) }}

),

touched_events as (

    select
        recounted_pairs.lead_id,
        recounted_pairs.signal_name,
        events.signal_id,
        events.occurred_at
    from recounted_pairs
    -- a lateral index lookup per recounted pair (index on int_lead_events (signal_name, lead_id))
    left join lateral (
        select
            pair_events.signal_id,
            pair_events.occurred_at
        from events as pair_events
        where
            pair_events.lead_id = recounted_pairs.lead_id
            and pair_events.signal_name = recounted_pairs.signal_name
    ) as events on true

),

-- every other written pair only gained events never counted before: its totals plus theirs
-- (count, growth sum, first and last event all combine; growth is numeric, so the sum is exact)
added_totals as (

    select
        written.lead_id,
        written.signal_name,
        count(written.signal_id) as signal_count,
        sum(cast({{ decay_growth('written.occurred_at') }} as numeric)) as growth_sum,
        min(written.occurred_at) as first_occurred_at,
        max(written.occurred_at) as last_occurred_at
    from written
    left join recounted_pairs
        on
            written.lead_id = recounted_pairs.lead_id
            and written.signal_name = recounted_pairs.signal_name
    where written.lead_id is not null and recounted_pairs.lead_id is null
    group by written.lead_id, written.signal_name

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

recounted as (

    select
        lead_id,
        signal_name,
        count(signal_id) as signal_count,
        coalesce(sum(cast({{ decay_growth('occurred_at') }} as numeric)), 0) as growth_sum,
        min(occurred_at) as first_occurred_at,
        max(occurred_at) as last_occurred_at
    from touched_events
    group by lead_id, signal_name

),

totals as (

    select * from recounted
    {%- if is_incremental() %}
    union all
    select
        added_totals.lead_id,
        added_totals.signal_name,
        added_totals.signal_count + coalesce(previous.signal_count, 0) as signal_count,
        added_totals.growth_sum + coalesce(previous.growth_sum, 0) as growth_sum,
        -- least / greatest skip a null (a pair not counted before)
        least(added_totals.first_occurred_at, previous.first_occurred_at) as first_occurred_at,
        greatest(added_totals.last_occurred_at, previous.last_occurred_at) as last_occurred_at
    from added_totals
    left join {{ this }} as previous
        on previous.lead_signal_id = added_totals.lead_id || ':' || added_totals.signal_name
    {%- endif %}

),

final as (

    select
        lead_id || ':' || signal_name as lead_signal_id,
        lead_id,
        signal_name,
        signal_count,
        growth_sum,
        first_occurred_at,
        last_occurred_at,
        {{ current_hash }} as settings_hash,
        {{ run_stamp() }} as updated_at
    from totals

)

select * from final
