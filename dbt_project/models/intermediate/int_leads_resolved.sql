{#
    One lead per person across all sources, keyed by normalised email:
    - CRM records sharing an email collapse to one lead; it keeps the lead_id of the earliest created
      record and the attributes of the most recently updated one;
    - CRM records without an email stay leads of their own (their lead_id);
    - people seen only in product, quiz, conversations, marketing or web get 'email:' || md5(email).
#}
with

crm_leads as (

    select * from {{ ref('stg_crm__leads') }}

),

product_users as (

    select * from {{ ref('stg_product__users') }}

),

quiz_responses as (

    select * from {{ ref('stg_quiz__responses') }}

),

conversations as (

    select * from {{ ref('stg_conversations__conversations') }}

),

signal_people as (

    select * from {{ ref('int_signal_people') }}

),

free_email_domains as (

    select * from {{ ref('free_email_domains') }}

),

crm_ranked as (

    select
        *,
        row_number() over (partition by email order by created_at, lead_id) as created_rank,
        row_number() over (
            partition by email order by updated_at desc nulls last, created_at desc, lead_id asc
        ) as updated_rank,
        count(*) over (partition by email) as crm_record_count,
        min(created_at) over (partition by email) as first_created_at,
        min(first_touch_at) over (partition by email) as first_first_touch_at
    from crm_leads
    where email is not null

),

crm_by_email as (

    select
        survivor.lead_id,
        survivor.lead_id as crm_lead_id,
        latest.owner_id,
        latest.email,
        latest.first_name,
        latest.last_name,
        latest.title,
        latest.company_name,
        latest.company_domain,
        latest.country,
        latest.lead_source,
        latest.status as crm_status,
        latest.crm_record_count,
        latest.first_first_touch_at as first_touch_at,
        latest.first_created_at as created_at
    from crm_ranked as survivor
    inner join crm_ranked as latest
        on survivor.email = latest.email
            and latest.updated_rank = 1
    where survivor.created_rank = 1

),

crm_without_email as (

    select
        lead_id,
        lead_id as crm_lead_id,
        owner_id,
        email,
        first_name,
        last_name,
        title,
        company_name,
        company_domain,
        country,
        lead_source,
        status as crm_status,
        1 as crm_record_count,
        first_touch_at,
        created_at
    from crm_leads
    where email is null

),

sightings as (

    select
        email,
        'crm' as source,
        created_at as seen_at
    from crm_leads
    where email is not null
    union all
    select
        email,
        'product' as source,
        signed_up_at as seen_at
    from product_users
    where email is not null
    union all
    select
        email,
        'quiz' as source,
        submitted_at as seen_at
    from quiz_responses
    where email is not null
    union all
    select
        email,
        'conversations' as source,
        started_at as seen_at
    from conversations
    where email is not null
    union all
    select
        email,
        source,
        min(first_occurred_at) as seen_at
    from signal_people
    where email is not null
    group by email, source

),

people as (

    select
        email,
        min(seen_at) as first_seen_at,
        (array_agg(source order by seen_at nulls last, source))[1] as first_source
    from sightings
    group by email

),

latest_quiz_roles as (

    select distinct on (email)
        email,
        role
    from quiz_responses
    where email is not null and role is not null
    order by email asc, submitted_at desc, response_id asc

),

leads_by_email as (

    select
        coalesce(crm.lead_id, 'email:' || md5(people.email)) as lead_id,
        crm.crm_lead_id,
        crm.owner_id,
        people.email,
        crm.first_name,
        crm.last_name,
        coalesce(crm.title, latest_quiz_roles.role) as title,
        crm.company_name,
        crm.company_domain,
        crm.country,
        coalesce(crm.lead_source, people.first_source) as lead_source,
        crm.crm_status,
        coalesce(crm.crm_record_count, 0) as crm_record_count,
        crm.first_touch_at,
        coalesce(crm.created_at, people.first_seen_at) as created_at,
        people.first_seen_at
    from people
    left join crm_by_email as crm
        on people.email = crm.email
    left join latest_quiz_roles
        on people.email = latest_quiz_roles.email

),

unioned as (

    select * from leads_by_email
    union all
    select
        lead_id,
        crm_lead_id,
        owner_id,
        email,
        first_name,
        last_name,
        title,
        company_name,
        company_domain,
        country,
        lead_source,
        crm_status,
        crm_record_count,
        first_touch_at,
        created_at,
        created_at as first_seen_at
    from crm_without_email

),

final as (

    select
        -- ids
        unioned.lead_id,
        unioned.crm_lead_id,
        unioned.owner_id,

        -- strings
        unioned.email,
        split_part(unioned.email, '@', 2) as email_domain,
        unioned.first_name,
        unioned.last_name,
        unioned.title,
        unioned.company_name,
        unioned.company_domain,
        -- the domain that joins the lead to an account: never a free-mail domain
        case
            when unioned.company_domain is not null and company_free.domain is null
                then unioned.company_domain
            when email_free.domain is null
                then nullif(split_part(unioned.email, '@', 2), '')
        end as account_domain,
        unioned.country,
        unioned.lead_source,
        unioned.crm_status,

        -- numerics
        unioned.crm_record_count,

        -- booleans
        unioned.crm_lead_id is not null as has_crm_record,
        unioned.email is not null and email_free.domain is null as is_business_email,

        -- timestamps
        unioned.first_touch_at,
        unioned.created_at,
        unioned.first_seen_at

    from unioned
    left join free_email_domains as company_free
        on unioned.company_domain = company_free.domain
    left join free_email_domains as email_free
        on split_part(unioned.email, '@', 2) = email_free.domain

)

select * from final
