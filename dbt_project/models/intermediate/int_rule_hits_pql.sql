{#
    Product-qualified: the lead owns (first signed up in) a workspace that is product-qualified in
    int_workspace_activation. qualified_at: when it qualified, if within the last pql_window_days;
    first_qualified_at: when it first qualified.
#}
with

workspaces as (

    select * from {{ ref('int_workspace_activation') }}
    where is_product_qualified

),

identities as (

    select * from {{ ref('int_lead_identities') }}
    where identifier_type = 'product_user_id'

),

lead_workspaces as (

    select
        identities.lead_id,
        workspaces.*,
        workspaces.product_qualified_at
        > {{ as_of() }} - interval '1 day' * {{ var('pql_window_days') }} as is_recent
    from workspaces
    inner join identities
        on workspaces.owner_user_id = identities.identifier

),

current_workspaces as (

    select distinct on (lead_id)
        lead_id,
        product_qualified_at,
        format(
            'activated in %s: %s created, %s invited a teammate; %s, %s, %s',
            {{ plural('greatest(1, ceil(extract(epoch from activated_at - signup_at) / 86400))', 'day') }},
            {{ plural('projects_created', 'project') }},
            case when teammates_invited = 1 then 'once' else teammates_invited || ' times' end,
            {{ plural('active_session_days', 'active day') }},
            {{ plural('distinct_features_used', 'feature') }},
            {{ plural('seats', 'seat') }}
        ) as detail
    from lead_workspaces
    where is_recent
    order by lead_id, product_qualified_at, workspace_id

),

first_workspaces as (

    select
        lead_id,
        min(product_qualified_at) as first_qualified_at
    from lead_workspaces
    group by lead_id

),

final as (

    select
        first_workspaces.lead_id || ':pql:activation_milestone' as rule_hit_id,
        first_workspaces.lead_id,
        'pql' as qualification_type,
        'activation_milestone' as rule,
        current_workspaces.detail,
        current_workspaces.product_qualified_at as qualified_at,
        first_workspaces.first_qualified_at
    from first_workspaces
    left join current_workspaces
        on first_workspaces.lead_id = current_workspaces.lead_id

)

select * from final
