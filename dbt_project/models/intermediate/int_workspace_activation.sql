{#
    Activation per workspace. Milestone (vars pql_*): at least pql_min_projects projects created and
    pql_min_teammates_invited teammates invited within pql_activation_window_days of the workspace's
    first signup. Usage depth over the first pql_usage_window_days: days with a session, distinct
    features used, seats; at least pql_min_depth_criteria of the three must hold.
    A workspace is product-qualified when both hold: a single login or a one-off action never is.
    Incremental per workspace: a run recomputes the workspaces with product events int_signals wrote
    since the last run (signals_processed_at) and those whose users or workspace record changed (workspace_hash), from
    their own events; a run with another as_of recomputes the workspaces with product events between the
    as_of a row was built at and the new one (untouched rows keep their built_as_of), other pql_* settings
    recompute every workspace.
#}
{%- set current_hash = settings_hash([
    'pql_activation_window_days', 'pql_min_projects', 'pql_min_teammates_invited', 'pql_usage_window_days',
    'pql_min_session_days', 'pql_min_features', 'pql_min_seats', 'pql_min_depth_criteria'
]) %}
{{
    config(
        materialized='incremental',
        unique_key='workspace_id',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['workspace_id'], 'unique': true}, {'columns': ['signals_processed_at']}],
    )
}}
with

-- inlined where used: a materialised CTE hides its statistics from the planner
users as not materialized (

    select * from {{ ref('stg_product__users') }}
    where signed_up_at <= {{ as_of() }}

),

workspaces as (

    select * from {{ ref('stg_product__workspaces') }}

),

-- what a workspace's result depends on besides its events: its users and its record
workspace_hashes as (

    select
        coalesce(user_hashes.workspace_id, workspaces.workspace_id) as workspace_id,
        md5(
            coalesce(user_hashes.users_hash, '') || '|' || coalesce(workspaces.plan, '') || '|'
            || coalesce(workspaces.seats::text, '')
        ) as workspace_hash
    from (
        select
            workspace_id,
            md5(string_agg(user_id || '|' || signed_up_at, ',' order by user_id)) as users_hash
        from users
        where workspace_id is not null
        group by workspace_id
    ) as user_hashes
    full outer join workspaces
        on user_hashes.workspace_id = workspaces.workspace_id

),

{% if is_incremental() -%}
as_of_moves as (

    {{ as_of_moves() }}

),

new_product_signals as (

    select coalesce(new_signals.workspace_id, users.workspace_id) as workspace_id
    from {{ ref('int_signals') }} as new_signals
    left join users
        on new_signals.product_user_id = users.user_id
    where
        new_signals.source = 'product'
        and {{ written_since_last_run('new_signals.processed_at', 'signals_processed_at') }}

),

touched as (

    select workspace_id from new_product_signals
    where workspace_id is not null
    union
    {{ keys_with_changed_hash('workspace_hashes', 'workspace_id', 'workspace_hash') }}
    union
    {{ keys_built_with_other_settings('workspace_id', current_hash) }}
    union
    -- as_of moved: only workspaces with product events between the as_of they were built at and this one
    -- (a user who signed up in between changes the workspace's hash above)
    select coalesce(moved_signals.workspace_id, users.workspace_id)
    from {{ ref('int_signals') }} as moved_signals
    inner join as_of_moves
        on {{ moved_since_built('moved_signals.occurred_at') }}
    left join users
        on moved_signals.product_user_id = users.user_id
    where moved_signals.source = 'product'

),

touched_users as (

    select users.user_id
    from users
    inner join touched
        on users.workspace_id = touched.workspace_id

),

product_signals as (

    select * from {{ ref('int_signals') }}
    where
        source = 'product'
        and occurred_at <= {{ as_of() }}
        -- = any(array(...)): index lookups for the touched workspaces and their users only
        and (
            workspace_id = any(array(select touched.workspace_id from touched))
            or product_user_id = any(array(select touched_users.user_id from touched_users))
        )

),
{%- else -%}
product_signals as (

    select * from {{ ref('int_signals') }}
    where source = 'product' and occurred_at <= {{ as_of() }}

),
{%- endif %}

workspace_signups as (

    select distinct on (workspace_id)
        workspace_id,
        user_id as owner_user_id,
        signed_up_at as signup_at
    from users
    {% if is_incremental() -%}
    where workspace_id in (select touched.workspace_id from touched)  -- never null
    {%- else -%}
    where workspace_id is not null
    {%- endif %}
    order by workspace_id, signed_up_at, user_id

),

events as (

    select
        coalesce(product_signals.workspace_id, users.workspace_id) as workspace_id,
        product_signals.signal_name,
        product_signals.signal_detail,
        product_signals.occurred_at
    from product_signals
    left join users
        on product_signals.product_user_id = users.user_id

),

ranked_events as (

    select
        events.workspace_id,
        events.signal_name,
        events.signal_detail,
        events.occurred_at,
        events.occurred_at < workspace_signups.signup_at
        + interval '1 day' * {{ var('pql_activation_window_days') }} as is_in_activation_window,
        events.occurred_at < workspace_signups.signup_at
        + interval '1 day' * {{ var('pql_usage_window_days') }} as is_in_usage_window,
        row_number() over (
            partition by
                events.workspace_id, events.signal_name, date_trunc('day', events.occurred_at at time zone 'UTC')
            order by events.occurred_at
        ) as rank_in_day,
        row_number() over (
            partition by events.workspace_id, events.signal_name, events.signal_detail
            order by events.occurred_at
        ) as rank_in_detail
    from events
    inner join workspace_signups
        on events.workspace_id = workspace_signups.workspace_id
    -- only the windows count (an event past them is ranked after every event inside them, so dropping it
    -- changes no rank that matters); last_active_at reads all events (last_active)
    where
        events.occurred_at >= workspace_signups.signup_at
        and events.occurred_at < workspace_signups.signup_at + interval '1 day' * greatest(
            {{ var('pql_activation_window_days') }}, {{ var('pql_usage_window_days') }}
        )

),

last_active as (

    select
        events.workspace_id,
        max(events.occurred_at) as last_active_at
    from events
    inner join workspace_signups
        on events.workspace_id = workspace_signups.workspace_id
    where events.occurred_at >= workspace_signups.signup_at
    group by events.workspace_id

),

-- what each event counts towards
early_events as (

    select
        workspace_id,
        occurred_at,
        signal_name = 'project_created' and is_in_activation_window as is_milestone_project,
        signal_name = 'teammate_invited' and is_in_activation_window as is_milestone_invite,
        -- the first session of a day starts a new active day
        signal_name = 'session_started' and is_in_usage_window and rank_in_day = 1 as is_new_session_day,
        -- the first use of a feature adds to the breadth
        signal_name = 'feature_used' and is_in_usage_window and rank_in_detail = 1
        and signal_detail is not null as is_new_feature
    from ranked_events

),

-- one aggregate per workspace, joined to the signups in a single pass
workspace_usage as (

    select
        workspace_signups.workspace_id,
        workspace_signups.owner_user_id,
        workspace_signups.signup_at,
        count(*) filter (where early_events.is_milestone_project) as projects_created,
        count(*) filter (where early_events.is_milestone_invite) as teammates_invited,
        count(*) filter (where early_events.is_new_session_day) as active_session_days,
        count(*) filter (where early_events.is_new_feature) as distinct_features_used,
        -- times in order; the n-th is when the n-th project / invite / active day / feature happened
        array_agg(early_events.occurred_at order by early_events.occurred_at)
        filter (where early_events.is_milestone_project) as project_times,
        array_agg(early_events.occurred_at order by early_events.occurred_at)
        filter (where early_events.is_milestone_invite) as invite_times,
        array_agg(early_events.occurred_at order by early_events.occurred_at)
        filter (where early_events.is_new_session_day) as session_day_times,
        array_agg(early_events.occurred_at order by early_events.occurred_at)
        filter (where early_events.is_new_feature) as new_feature_times
    from workspace_signups
    left join early_events
        on workspace_signups.workspace_id = early_events.workspace_id
    group by workspace_signups.workspace_id, workspace_signups.owner_user_id, workspace_signups.signup_at

),

joined as (

    select
        workspace_usage.workspace_id,
        workspace_usage.owner_user_id,
        workspaces.plan,
        coalesce(workspaces.seats, 0) as seats,
        workspace_usage.projects_created,
        workspace_usage.teammates_invited,
        workspace_usage.active_session_days,
        workspace_usage.distinct_features_used,
        workspace_usage.signup_at,
        -- greatest() ignores nulls, so both milestones are checked explicitly
        case
            when
                workspace_usage.project_times[{{ var('pql_min_projects') }}] is not null
                and workspace_usage.invite_times[{{ var('pql_min_teammates_invited') }}] is not null
                then greatest(
                        workspace_usage.project_times[{{ var('pql_min_projects') }}],
                        workspace_usage.invite_times[{{ var('pql_min_teammates_invited') }}]
                    )
        end as activated_at,
        workspace_usage.session_day_times[{{ var('pql_min_session_days') }}] as session_depth_at,
        workspace_usage.new_feature_times[{{ var('pql_min_features') }}] as feature_depth_at,
        case
            when coalesce(workspaces.seats, 0) >= {{ var('pql_min_seats') }} then workspace_usage.signup_at
        end as seat_depth_at,
        last_active.last_active_at
    from workspace_usage
    left join workspaces
        on workspace_usage.workspace_id = workspaces.workspace_id
    left join last_active
        on workspace_usage.workspace_id = last_active.workspace_id

),

depth as (

    select
        joined.*,
        (joined.session_depth_at is not null)::int
        + (joined.feature_depth_at is not null)::int
        + (joined.seat_depth_at is not null)::int as depth_criteria_met,
        depth_times.depth_reached_at
    from joined
    left join lateral (
        -- the moment the n-th depth criterion was met
        select criteria.criterion_met_at as depth_reached_at
        from unnest(array[joined.session_depth_at, joined.feature_depth_at, joined.seat_depth_at])
                as criteria (criterion_met_at)
        where criteria.criterion_met_at is not null
        order by criteria.criterion_met_at
        limit 1 offset {{ var('pql_min_depth_criteria') }} - 1
    ) as depth_times on true

),

-- the latest int_signals run whose events each workspace has read
loaded as (

    select
        coalesce(product_signals.workspace_id, users.workspace_id) as workspace_id,
        max(product_signals.processed_at) as signals_processed_at
    from product_signals
    left join users
        on product_signals.product_user_id = users.user_id
    group by coalesce(product_signals.workspace_id, users.workspace_id)

),

final as (

    select
        -- ids
        depth.workspace_id,
        depth.owner_user_id,

        -- strings
        depth.plan,

        -- numerics
        depth.seats,
        depth.projects_created,
        depth.teammates_invited,
        depth.active_session_days,
        depth.distinct_features_used,
        depth.depth_criteria_met,

        -- booleans
        depth.activated_at is not null as is_activated,
        depth.depth_reached_at is not null as is_usage_deep,
        depth.activated_at is not null and depth.depth_reached_at is not null as is_product_qualified,

        -- timestamps
        depth.signup_at,
        depth.activated_at,
        depth.depth_reached_at,
        case
            when depth.activated_at is not null and depth.depth_reached_at is not null
                then greatest(depth.activated_at, depth.depth_reached_at)
        end as product_qualified_at,
        depth.last_active_at,

        -- incremental bookkeeping
        workspace_hashes.workspace_hash,
        {{ current_hash }} as settings_hash,
        {{ as_of() }} as built_as_of,
        loaded.signals_processed_at

    from depth
    left join workspace_hashes
        on depth.workspace_id = workspace_hashes.workspace_id
    left join loaded
        on depth.workspace_id = loaded.workspace_id

)

select * from final
