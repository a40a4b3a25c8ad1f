{#
    Web sessions (an optional entity: exports that carry time on site) started by as_of, each attributed to a
    resolved lead by e-mail, else CRM lead id, else product user id, else web anonymous id; null while the
    visitor is anonymous. is_engaged: at least web_engaged_session_minutes on the site or
    web_engaged_session_pages pages viewed (signal web_session_engaged, scored by the `signals` var).
#}
with

sessions as (

    select * from {{ ref('stg_web__sessions') }}
    where started_at <= {{ as_of() }}

),

identities as (

    select * from {{ ref('int_lead_identities') }}

),

resolved as (

    select
        sessions.session_id,
        coalesce(by_email.lead_id, by_crm.lead_id, by_user.lead_id, by_anonymous.lead_id) as lead_id,
        sessions.landing_page,
        sessions.duration_seconds,
        sessions.page_views,
        sessions.started_at
    from sessions
    left join identities as by_email
        on by_email.identifier_type = 'email' and sessions.email = by_email.identifier
    left join identities as by_crm
        on by_crm.identifier_type = 'crm_lead_id' and sessions.crm_lead_id = by_crm.identifier
    left join identities as by_user
        on by_user.identifier_type = 'product_user_id' and sessions.user_id = by_user.identifier
    left join identities as by_anonymous
        on by_anonymous.identifier_type = 'anonymous_id' and sessions.anonymous_id = by_anonymous.identifier

),

final as (

    select
        -- ids
        session_id,
        lead_id,

        -- strings
        landing_page,

        -- numerics
        duration_seconds,
        page_views,

        -- booleans
        coalesce(
            duration_seconds >= 60 * {{ var('web_engaged_session_minutes') }}
            or page_views >= {{ var('web_engaged_session_pages') }},
            false
        ) as is_engaged,

        -- timestamps
        started_at

    from resolved

)

select * from final
