{#
    Identity map: every identifier a source uses for a person -> the resolved lead_id.
    email and CRM lead ids (duplicates included) map directly; product user ids map through the
    user's email; web anonymous ids map to the email most recently seen with them.
#}
with

leads as (

    select * from {{ ref('int_leads_resolved') }}

),

crm_leads as (

    select * from {{ ref('stg_crm__leads') }}

),

product_users as (

    select * from {{ ref('stg_product__users') }}

),

signal_people as (

    select * from {{ ref('int_signal_people') }}
    where source = 'web'

),

by_email as (

    select
        'email' as identifier_type,
        email as identifier,
        lead_id
    from leads
    where email is not null

),

by_crm_lead_id as (

    select
        'crm_lead_id' as identifier_type,
        crm_leads.lead_id as identifier,
        coalesce(by_email.lead_id, crm_leads.lead_id) as lead_id
    from crm_leads
    left join by_email
        on crm_leads.email = by_email.identifier

),

by_product_user as (

    select
        'product_user_id' as identifier_type,
        product_users.user_id as identifier,
        by_email.lead_id
    from product_users
    inner join by_email
        on product_users.email = by_email.identifier

),

identified_web_visits as (

    select
        signal_people.anonymous_id,
        coalesce(signal_people.email, product_users.email) as email,
        max(signal_people.last_occurred_at) as last_seen_at
    from signal_people
    left join product_users
        on signal_people.product_user_id = product_users.user_id
    where
        signal_people.anonymous_id is not null
        and coalesce(signal_people.email, product_users.email) is not null
    group by signal_people.anonymous_id, coalesce(signal_people.email, product_users.email)

),

by_anonymous_id as (

    select distinct on (identified_web_visits.anonymous_id)
        'anonymous_id' as identifier_type,
        identified_web_visits.anonymous_id as identifier,
        by_email.lead_id
    from identified_web_visits
    inner join by_email
        on identified_web_visits.email = by_email.identifier
    order by identified_web_visits.anonymous_id asc, identified_web_visits.last_seen_at desc, by_email.lead_id asc

),

unioned as (

    select * from by_email
    union all
    select * from by_crm_lead_id
    union all
    select * from by_product_user
    union all
    select * from by_anonymous_id

),

final as (

    select
        identifier_type || ':' || identifier as identity_id,
        identifier_type,
        identifier,
        lead_id
    from unioned

)

select * from final
