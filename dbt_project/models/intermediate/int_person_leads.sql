{#
    Incremental: the lead each person key of int_signals resolves to (by email, else product user id,
    else web anonymous id; null while the person is anonymous). Every run re-resolves all person keys
    (~400k rows) and writes only keys that are new or whose lead changed, stamped with the run's start
    (resolved_at): int_lead_events re-attributes exactly the events of those keys.
#}
{{
    config(
        materialized='incremental',
        unique_key='person_key',
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['person_key'], 'unique': true},
            {'columns': ['resolved_at']},
        ],
    )
}}

with

people as (

    select distinct
        person_key,
        email,
        product_user_id,
        anonymous_id
    from {{ ref('int_signal_people') }}

),

email_identities as (

    select
        identifier,
        lead_id
    from {{ ref('int_lead_identities') }}
    where identifier_type = 'email'

),

user_identities as (

    select
        identifier,
        lead_id
    from {{ ref('int_lead_identities') }}
    where identifier_type = 'product_user_id'

),

anonymous_identities as (

    select
        identifier,
        lead_id
    from {{ ref('int_lead_identities') }}
    where identifier_type = 'anonymous_id'

),

resolved as (

    select
        people.person_key,
        coalesce(by_email.lead_id, by_user.lead_id, by_anonymous.lead_id) as lead_id
    from people
    left join email_identities as by_email
        on people.email = by_email.identifier
    left join user_identities as by_user
        on people.product_user_id = by_user.identifier
    left join anonymous_identities as by_anonymous
        on people.anonymous_id = by_anonymous.identifier

)

select
    resolved.person_key,
    resolved.lead_id,
    {{ run_stamp() }} as resolved_at
from resolved
{{ only_new_or_changed('resolved', 'person_key', ['lead_id']) }}
