{#
    Activation per workspace. Milestone (vars pql_*): at least pql_min_projects projects created and
    pql_min_teammates_invited teammates invited within pql_activation_window_days of the workspace's
    first signup. Usage depth over the first pql_usage_window_days: days with a session, distinct
    features used, seats; at least pql_min_depth_criteria of the three must hold.
    A workspace is product-qualified when both hold: a single login or a one-off action never is.
#}
with

users as (

    select * from {{ ref('stg_product__users') }}
    where signed_up_at <= {{ as_of() }}

),

workspaces as (

    select * from {{ ref('stg_product__workspaces') }}

),

product_signals as (

    select * from {{ ref('int_signals') }}
    where source = 'product' and occurred_at <= {{ as_of() }}

),

workspace_signups as (

    select distinct on (workspace_id)
        workspace_id,
        user_id as owner_user_id,
        signed_up_at as signup_at
    from users
    where workspace_id is not null
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

early_events as (

    select
        events.*,
        events.occurred_at < workspace_signups.signup_at
        + interval '1 day' * {{ var('pql_activation_window_days') }} as is_in_activation_window,
        events.occurred_at < workspace_signups.signup_at
        + interval '1 day' * {{ var('pql_usage_window_days') }} as is_in_usage_window
    from events
    inner join workspace_signups
        on events.workspace_id = workspace_signups.workspace_id
    where events.occurred_at >= workspace_signups.signup_at

),

milestones as (

    select
        workspace_id,
        count(*) filter (
            where signal_name = 'project_created' and is_in_activation_window
        ) as projects_created,
        count(*) filter (
            where signal_name = 'teammate_invited' and is_in_activation_window
        ) as teammates_invited,
        (array_agg(occurred_at order by occurred_at) filter (
            where signal_name = 'project_created' and is_in_activation_window
        ))[{{ var('pql_min_projects') }}] as project_milestone_at,
        (array_agg(occurred_at order by occurred_at) filter (
            where signal_name = 'teammate_invited' and is_in_activation_window
        ))[{{ var('pql_min_teammates_invited') }}] as teammate_milestone_at
    from early_events
    group by workspace_id

),

session_days as (

    select
        workspace_id,
        min(occurred_at) as first_session_at
    from early_events
    where signal_name = 'session_started' and is_in_usage_window
    group by workspace_id, date_trunc('day', occurred_at at time zone 'UTC')

),

session_depth as (

    select
        workspace_id,
        count(*) as active_session_days,
        (array_agg(first_session_at order by first_session_at))[{{ var('pql_min_session_days') }}]
            as session_depth_at
    from session_days
    group by workspace_id

),

features as (

    select
        workspace_id,
        min(occurred_at) as first_used_at
    from early_events
    where signal_name = 'feature_used' and is_in_usage_window and signal_detail is not null
    group by workspace_id, signal_detail

),

feature_depth as (

    select
        workspace_id,
        count(*) as distinct_features_used,
        (array_agg(first_used_at order by first_used_at))[{{ var('pql_min_features') }}] as feature_depth_at
    from features
    group by workspace_id

),

last_activity as (

    select
        workspace_id,
        max(occurred_at) as last_active_at
    from events
    group by workspace_id

),

joined as (

    select
        workspace_signups.workspace_id,
        workspace_signups.owner_user_id,
        workspaces.plan,
        coalesce(workspaces.seats, 0) as seats,
        coalesce(milestones.projects_created, 0) as projects_created,
        coalesce(milestones.teammates_invited, 0) as teammates_invited,
        coalesce(session_depth.active_session_days, 0) as active_session_days,
        coalesce(feature_depth.distinct_features_used, 0) as distinct_features_used,
        workspace_signups.signup_at,
        case
            when milestones.project_milestone_at is not null and milestones.teammate_milestone_at is not null
                then greatest(milestones.project_milestone_at, milestones.teammate_milestone_at)
        end as activated_at,
        session_depth.session_depth_at,
        feature_depth.feature_depth_at,
        case
            when coalesce(workspaces.seats, 0) >= {{ var('pql_min_seats') }} then workspace_signups.signup_at
        end as seat_depth_at,
        last_activity.last_active_at
    from workspace_signups
    left join workspaces
        on workspace_signups.workspace_id = workspaces.workspace_id
    left join milestones
        on workspace_signups.workspace_id = milestones.workspace_id
    left join session_depth
        on workspace_signups.workspace_id = session_depth.workspace_id
    left join feature_depth
        on workspace_signups.workspace_id = feature_depth.workspace_id
    left join last_activity
        on workspace_signups.workspace_id = last_activity.workspace_id

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
        select criterion_met_at as depth_reached_at
        from unnest(array[joined.session_depth_at, joined.feature_depth_at, joined.seat_depth_at])
                as criteria (criterion_met_at)
        where criterion_met_at is not null
        order by criterion_met_at
        limit 1 offset {{ var('pql_min_depth_criteria') }} - 1
    ) as depth_times on true

),

final as (

    select
        -- ids
        workspace_id,
        owner_user_id,

        -- strings
        plan,

        -- numerics
        seats,
        projects_created,
        teammates_invited,
        active_session_days,
        distinct_features_used,
        depth_criteria_met,

        -- booleans
        activated_at is not null as is_activated,
        depth_reached_at is not null as is_usage_deep,
        activated_at is not null and depth_reached_at is not null as is_product_qualified,

        -- timestamps
        signup_at,
        activated_at,
        depth_reached_at,
        case
            when activated_at is not null and depth_reached_at is not null
                then greatest(activated_at, depth_reached_at)
        end as product_qualified_at,
        last_active_at

    from depth

)

select * from final
