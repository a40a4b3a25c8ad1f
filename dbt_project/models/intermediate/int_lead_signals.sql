{#
    One row per scored event attributed to a lead, as of the run: behavioural events (int_lead_events)
    plus conversation and quiz signals (int_touch_signals), with the category, points and cap of the
    `signals` var and the points left after time decay (half-life var decay_half_life_days). Events
    after as_of are left out; events of people never identified are dropped.
    A view: the settings and the clock are applied when it is read, and the models that read it select
    small sets of signals (index on int_lead_events (signal_name, lead_id)).
#}
{{ config(materialized='view') }}

with

behaviour as (

    select
        signal_id,
        lead_id,
        workspace_id,
        source,
        signal_name,
        signal_detail,
        occurred_at
    from {{ ref('int_lead_events') }}
    where lead_id is not null and occurred_at <= {{ as_of() }}

),

touch_signals as (

    select * from {{ ref('int_touch_signals') }}

),

signal_settings as (

    {{ signal_settings_values() }}

),

unioned as (

    select * from behaviour
    union all
    select * from touch_signals

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
