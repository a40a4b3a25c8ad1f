{#
    What the sync must deliver now: one row per qualified lead × destination (var destinations, by
    route). Consent is checked again here against the suppression list itself, and customers,
    competitors and leads without an email never enter. payload holds exactly the fields delivered;
    it leaves out values that move with every run (scores decay daily), so content_hash only changes
    when something a salesperson would care about changes.
#}
with

qualified as (

    select * from {{ ref('qualified_leads') }}

),

leads as (

    select * from {{ ref('leads') }}

),

suppressions as (

    select distinct email from {{ ref('stg_consent__suppressions') }}

),

destinations as (

    {{ destination_values() }}

),

eligible as (

    select
        qualified.lead_id,
        qualified.email,
        leads.first_name,
        leads.last_name,
        leads.company_name,
        leads.title,
        qualified.primary_type,
        qualified.route,
        qualified.reasons_text,
        qualified.total_score,
        qualified.sla_due_at,
        qualified.qualifying_event_at as qualified_at,
        array_remove(
            array[
                {%- for type_name in var('qualification_type_precedence') %}
                case when qualified.is_{{ type_name }} then '{{ type_name }}' end
                {%- if not loop.last %},{% endif %}
                {%- endfor %}
            ],
            null
        ) as qualification_types
    from qualified
    inner join leads
        on qualified.lead_id = leads.lead_id
    left join suppressions
        on qualified.email = suppressions.email
    where
        qualified.email is not null
        and suppressions.email is null
        and not leads.is_suppressed
        and not leads.is_customer
        and not leads.is_competitor

),

-- materialized: one payload per lead, not one per lead × destination (built twice each: payload and hash)
payloads as materialized (

    select
        eligible.*,
        jsonb_build_object(
            'lead_id', eligible.lead_id,
            'email', eligible.email,
            'first_name', eligible.first_name,
            'last_name', eligible.last_name,
            'company_name', eligible.company_name,
            'title', eligible.title,
            'primary_type', eligible.primary_type,
            'qualification_types', to_jsonb(eligible.qualification_types),
            'route', eligible.route,
            'reasons_text', eligible.reasons_text,
            'qualified_at', {{ utc_iso('eligible.qualified_at') }},
            'sla_due_at', {{ utc_iso('eligible.sla_due_at') }}
        ) as payload
    from eligible

),

final as (

    select
        -- ids
        payloads.lead_id || ':' || destinations.destination as queue_id,
        payloads.lead_id,

        -- strings
        destinations.destination,
        payloads.email,
        payloads.first_name,
        payloads.last_name,
        payloads.company_name,
        payloads.title,
        payloads.primary_type,
        payloads.route,
        payloads.reasons_text,
        md5(payloads.payload::text) as content_hash,

        -- json
        payloads.payload,

        -- numerics
        payloads.total_score,

        -- timestamps
        payloads.sla_due_at,
        payloads.qualified_at

    from payloads
    inner join destinations
        on payloads.route = destinations.route

)

select * from final
