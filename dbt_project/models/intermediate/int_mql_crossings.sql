{#
    Incremental, one row per moment the engagement score of a lead whose fit qualifies for MQL (var
    mql_min_fit_score) rose through var mql_min_engagement_score, rebuilt exactly, point in time (one
    row with crossed_at null for a lead that never crossed). For each
    engagement signal the running sum of its events' growth 2^((t - decay_epoch) / half-life), divided by
    the growth at the event, is that signal's decayed count at the event; times its points and capped per
    signal (var signals), the sum is the score after the event; without the event itself, the score
    before it. A crossing is an event where the score before was under the threshold and after was not.
    Crossings do not depend on as_of (the score at an event depends only on earlier events), so
    int_rule_hits_mql keeps those up to as_of.
    An incremental run recomputes only leads with engagement events written since the last run (new or
    re-attributed, and the leads they left), leads whose conversation / quiz signals changed (touch_hash),
    leads that became fit-qualified without a computed row, and rows built with other settings.
#}
{%- set threshold = var('mql_min_engagement_score') %}
{%- set engagement_signals = [] %}
{%- for name, setting in var('signals').items() %}
{%- if setting.category == 'engagement' %}
{%- do engagement_signals.append((name, setting.points, setting.cap)) %}
{%- endif %}
{%- endfor %}
{%- set engagement_names = engagement_signals | map(attribute=0) | list %}
{%- set current_hash = settings_hash([
    'signals', 'mql_min_engagement_score', 'decay_half_life_days', 'decay_epoch'
]) %}
{{
    config(
        materialized='incremental',
        unique_key='lead_id',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['lead_id']}, {'columns': ['updated_at']}],
    )
}}

with

fit_qualified as (

    -- the fit score as int_lead_scores reports it (the sum of the fit points, capped at 100), read from
    -- int_leads_fit_scored so crossings need not wait for the behavioural scores
    select lead_id from {{ ref('int_leads_fit_scored') }}
    where fit_score >= {{ var('mql_min_fit_score') }}

),

touch_signals as (

    select
        lead_id,
        signal_id,
        signal_name,
        occurred_at
    from {{ ref('int_touch_signals') }}
    where signal_name in {{ sql_list(engagement_names) }}

),

touch_hashes as (

    select
        lead_id,
        md5(string_agg(signal_id || '|' || signal_name || '|' || occurred_at, ',' order by signal_id)) as touch_hash
    from touch_signals
    group by lead_id

),

{% if is_incremental() -%}
previous_computed as (

    select distinct
        lead_id,
        is_computed
    from {{ this }}

),

written as (

    select
        lead_id,
        previous_lead_id
    from {{ ref('int_lead_events') }}
    where
        {{ written_since_last_run('attributed_at', 'updated_at') }}
        and signal_name in {{ sql_list(engagement_names) }}

),

touched as (

    select lead_id from written
    where lead_id is not null
    union
    select previous_lead_id from written
    where previous_lead_id is not null
    union
    {{ keys_with_changed_hash('touch_hashes', 'lead_id', 'touch_hash') }}
    union
    {{ keys_built_with_other_settings('lead_id', current_hash) }}
    union
    select fit_qualified.lead_id
    from fit_qualified
    left join previous_computed as this
        on fit_qualified.lead_id = this.lead_id
    where this.lead_id is null or not this.is_computed

),
{%- else -%}
touched as (

    select lead_id from fit_qualified
    union
    select lead_id from touch_hashes

),
{%- endif %}

-- touched leads that qualify on fit are computed; the others keep a row marked not computed
leads as (

    select
        touched.lead_id,
        fit_qualified.lead_id is not null as is_computed
    from touched
    left join fit_qualified
        on touched.lead_id = fit_qualified.lead_id

),

engagement_events as (

    select
        events.lead_id,
        events.signal_id,
        events.signal_name,
        events.occurred_at
    from {{ ref('int_lead_events') }} as events
    -- = any(array(...)): index lookups on (signal_name, lead_id) for the touched leads only
    where
        events.signal_name in {{ sql_list(engagement_names) }}
        and events.lead_id = any(array(
            select leads.lead_id
            from leads
            where leads.is_computed
        ))

    union all

    select
        touch_signals.lead_id,
        touch_signals.signal_id,
        touch_signals.signal_name,
        touch_signals.occurred_at
    from touch_signals
    inner join leads
        on touch_signals.lead_id = leads.lead_id
    where leads.is_computed

),

grown as (

    select
        *,
        {{ decay_growth('occurred_at') }} as growth
    from engagement_events

),

running as (

    select
        {%- for name, points, cap in engagement_signals %}
        coalesce(sum(growth) filter (where signal_name = '{{ name }}') over running_window, 0) as running_{{ name }},
        {%- endfor %}
        lead_id,
        signal_name,
        growth,
        occurred_at
    from grown
    window running_window as (
        partition by lead_id
        order by occurred_at, signal_id
        rows between unbounded preceding and current row
    )

),

timeline as (

    select
        lead_id,
        occurred_at,
        0
        {%- for name, points, cap in engagement_signals %}
        + least({{ cap }}, {{ points }} * running_{{ name }} / growth)
        {%- endfor %} as score_after,
        0
        {%- for name, points, cap in engagement_signals %}
        + least(
            {{ cap }},
            {{ points }} * (running_{{ name }} - case when signal_name = '{{ name }}' then growth else 0 end) / growth
        )
        {%- endfor %} as score_before
    from running
    where growth > 0

),

crossings as (

    select
        lead_id,
        occurred_at as crossed_at
    from timeline
    where score_before < {{ threshold }} and score_after >= {{ threshold }}

),

final as (

    select
        leads.lead_id,
        leads.is_computed,
        crossings.crossed_at,
        touch_hashes.touch_hash,
        {{ current_hash }} as settings_hash,
        {{ run_stamp() }} as updated_at
    from leads
    left join crossings
        on leads.lead_id = crossings.lead_id
    left join touch_hashes
        on leads.lead_id = touch_hashes.lead_id

)

select * from final
