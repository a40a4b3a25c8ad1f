{#
    Change log for the lead-scoped models (macros/lead_scope.sql), appended once per run: the leads
    whose behavioural data changed since the previous run, and one row (lead_id null) carrying the
    run's data signature: as_of, every setting, the seeds, and the row count and latest load of every
    raw table that is not an event stream (CRM, product users and workspaces, conversations, quiz,
    consent) and of the pull's record flags. A lead-scoped model rebuilds in full when the signature
    differs from the one it was built with; otherwise it recomputes only the leads logged since.
    Leads changed by events: those of events int_lead_events wrote (new or re-attributed, and the lead
    an event left) and the leads of every user of a workspace int_workspace_activation recomputed.
    Everything else a lead's rows depend on comes from the sources in the signature.
#}
-- depends_on: {{ ref('int_lead_events') }}
-- depends_on: {{ ref('int_workspace_activation') }}
-- depends_on: {{ ref('stg_product__users') }}
-- depends_on: {{ ref('int_lead_identities') }}
{#- keeps 30 days of runs (a model last built before the oldest kept run is rebuilt in full) and fresh
    statistics: every lead-scoped model plans its reads by the number of changed leads -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[{'columns': ['changed_at']}],
        pre_hook="{% if is_incremental() %}delete from {{ this }} where changed_at < (select max(changed_at) - interval '30 days' from {{ this }}){% endif %}",
        post_hook="analyze {{ this }}",
    )
}}
{%- set non_event_sources = [
    source('crm', 'leads'), source('crm', 'accounts'), source('crm', 'opportunities'),
    source('product', 'users'), source('product', 'workspaces'),
    source('conversations', 'conversations'), source('quiz', 'responses'), source('consent', 'suppressions'),
] %}
{%- set seeds = [
    ref('free_email_domains'), ref('icp_countries'), ref('icp_industries'), ref('qualification_rules'),
    ref('title_seniority_patterns'), ref('topic_bant_dimensions'),
] %}

with

{% if is_incremental() -%}
last_run as (

    select coalesce(max(changed_at), cast('-infinity' as timestamptz)) as changed_at
    from {{ this }}

),

written_events as (

    select
        events.lead_id,
        events.previous_lead_id
    from {{ ref('int_lead_events') }} as events
    where events.attributed_at > (select last_run.changed_at from last_run)

),

recomputed_workspace_users as (

    select users.user_id
    from {{ ref('int_workspace_activation') }} as activation
    inner join {{ ref('stg_product__users') }} as users
        on activation.workspace_id = users.workspace_id
    where activation.computed_at > (select last_run.changed_at from last_run)

),

changed_leads as (

    select lead_id from written_events
    where lead_id is not null
    union
    select previous_lead_id from written_events
    where previous_lead_id is not null
    union
    select identities.lead_id
    from recomputed_workspace_users
    inner join {{ ref('int_lead_identities') }} as identities
        on
            identities.identifier_type = 'product_user_id'
            and recomputed_workspace_users.user_id = identities.identifier

),
{%- else -%}
changed_leads as (

    -- a full build: every lead-scoped model is rebuilt too (no model has seen this signature)
    select cast(null as text) as lead_id
    where false

),
{%- endif %}

signature_parts as (

    select '{{ local_md5(lead_scope_settings_json()) }}' as part
    {%- for relation in non_event_sources %}
    union all
    select '{{ relation.identifier }}:' || count(*) || ':' || coalesce(cast(max(_loaded_at) as text), '')
    from {{ relation }}
    {%- endfor %}
    union all
    select 'record_flags:' || count(*) || ':' || coalesce(cast(max(flagged_at) as text), '')
    from {{ ref('stg_ops__record_flags') }}
    {%- for relation in seeds %}
    union all
    select
        '{{ relation.identifier }}:'
        || md5(coalesce(string_agg(cast(seed_rows as text), '|' order by cast(seed_rows as text)), ''))
    from {{ relation }} as seed_rows
    {%- endfor %}

),

signature as (

    select md5(string_agg(part, ',' order by part)) as data_signature
    from signature_parts

),

logged as (

    select lead_id from changed_leads
    union all
    select cast(null as text) as lead_id

)

select
    logged.lead_id,
    cast('{{ run_started_at }}' as timestamptz) as changed_at,
    signature.data_signature
from logged
cross join signature
