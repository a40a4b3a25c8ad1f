{#
    Fit attributes and fit score per lead: title seniority (seeds/title_seniority_patterns.csv),
    company size band (CRM employee count, else the quiz team size), ICP industry and country
    (seeds), business email, and a quiz use case. Points: var fit_points, var company_size_bands.
    Points an analyst gives values of the data: the lead source (seeds/fit_lead_sources.csv, compared
    lower-cased) and the quiz role (seeds/fit_quiz_roles.csv: the first pattern by priority that matches).
    Both seeds ship empty, so they add nothing until an analyst lists values (`leadflow profile` suggests
    some from the won share of each value); vars fit_lead_source_points and fit_quiz_role_points add or
    override values for one run (`leadflow run --vars ...`).
#}
with

leads as (

    select * from {{ ref('int_leads_resolved') }}

),

accounts as (

    select * from {{ ref('int_accounts') }}
    where domain is not null

),

quiz_responses as (

    select * from {{ ref('stg_quiz__responses') }}
    where email is not null and submitted_at <= {{ as_of() }}

),

seniority_patterns as (

    select * from {{ ref('title_seniority_patterns') }}

),

icp_industries as (

    select lower(trim(industry)) as industry from {{ ref('icp_industries') }}

),

icp_countries as (

    select lower(trim(country)) as country from {{ ref('icp_countries') }}

),

company_size_bands as (

    {{ company_size_band_values() }}

),

-- the seed, and for one run var fit_lead_source_points ({value: points}), which wins
lead_source_settings as (

    select
        lower(trim(lead_source)) as lead_source,
        points,
        1 as precedence
    from {{ ref('fit_lead_sources') }}
    {%- for value, points in (var('fit_lead_source_points') or {}).items() %}
    union all
    select
        lower(trim({{ sql_text(value) }})) as lead_source,
        {{ points | float }} as points,
        0 as precedence
    {%- endfor %}

),

lead_source_points as (

    select distinct on (lead_source)
        lead_source,
        greatest(points, 0) as points
    from lead_source_settings
    order by lead_source asc, precedence asc, points desc

),

-- the seed, after var fit_quiz_role_points ({pattern: points}, in its order) for one run
quiz_role_patterns as (

    select
        priority,
        pattern,
        points
    from {{ ref('fit_quiz_roles') }}
    {%- for pattern, points in (var('fit_quiz_role_points') or {}).items() %}
    union all
    select
        {{ loop.index - 1000000 }} as priority,
        {{ sql_text(pattern) }} as pattern,
        {{ points | float }} as points
    {%- endfor %}

),

latest_quiz as (

    select distinct on (email)
        email,
        role,
        team_size,
        use_case
    from quiz_responses
    order by email asc, submitted_at desc, response_id asc

),

lead_titles as (

    select
        lead_id,
        lower(regexp_replace(title, '[_\-/]+', ' ', 'g')) as title_words
    from leads
    where title is not null

),

-- each distinct title is matched once: titles repeat, and the regex join per lead was most of this model
title_seniorities as (

    select distinct on (titles.title_words)
        titles.title_words,
        seniority_patterns.seniority,
        seniority_patterns.points,
        seniority_patterns.is_decision_maker
    from (select distinct title_words from lead_titles) as titles
    inner join seniority_patterns
        on titles.title_words ~* seniority_patterns.pattern
    order by titles.title_words, seniority_patterns.priority

),

quiz_role_matches as (

    select distinct on (latest_quiz.email)
        latest_quiz.email,
        greatest(quiz_role_patterns.points, 0) as points
    from latest_quiz
    inner join quiz_role_patterns
        on lower(regexp_replace(latest_quiz.role, '[_\-/]+', ' ', 'g')) ~* quiz_role_patterns.pattern
    order by latest_quiz.email, quiz_role_patterns.priority

),

seniority_matches as (

    select
        lead_titles.lead_id,
        title_seniorities.seniority,
        title_seniorities.points,
        title_seniorities.is_decision_maker
    from lead_titles
    inner join title_seniorities
        on lead_titles.title_words = title_seniorities.title_words

),

enriched as (

    select
        leads.lead_id,
        accounts.account_id,
        leads.email,
        accounts.industry,
        coalesce(leads.country, accounts.country) as country,
        accounts.employee_count,
        leads.lead_source,
        latest_quiz.role as quiz_role,
        latest_quiz.team_size as quiz_team_size,
        latest_quiz.use_case as quiz_use_case,
        coalesce(lead_source_points.points, 0) as lead_source_points,
        coalesce(quiz_role_matches.points, 0) as quiz_role_points,
        seniority_matches.seniority,
        coalesce(seniority_matches.points, 0) as seniority_points,
        coalesce(seniority_matches.is_decision_maker, false) as is_decision_maker,
        leads.is_business_email
    from leads
    left join accounts
        on leads.account_domain = accounts.domain
    left join latest_quiz
        on leads.email = latest_quiz.email
    left join seniority_matches
        on leads.lead_id = seniority_matches.lead_id
    left join lead_source_points
        on lower(trim(leads.lead_source)) = lead_source_points.lead_source
    left join quiz_role_matches
        on leads.email = quiz_role_matches.email

),

sized as (

    select
        enriched.*,
        coalesce(by_count.size_band, by_quiz.size_band) as company_size_band,
        coalesce(by_count.points, by_quiz.points, 0) as company_size_points
    from enriched
    left join company_size_bands as by_count
        on enriched.employee_count between by_count.min_employees and by_count.max_employees
    left join company_size_bands as by_quiz
        on enriched.employee_count is null
            and replace(enriched.quiz_team_size, ' ', '') = by_quiz.size_band

),

pointed as (

    select
        -- ids
        sized.lead_id,
        sized.account_id,

        -- strings
        sized.seniority,
        sized.company_size_band,
        sized.industry,
        sized.country,
        sized.lead_source,
        sized.quiz_role,
        sized.quiz_team_size,
        sized.quiz_use_case,

        -- numerics
        sized.employee_count,
        sized.seniority_points,
        sized.company_size_points,
        sized.lead_source_points,
        sized.quiz_role_points,
        case when icp_industries.industry is not null then {{ var('fit_points')['icp_industry'] }} else 0 end
            as industry_points,
        case when icp_countries.country is not null then {{ var('fit_points')['icp_country'] }} else 0 end
            as country_points,
        case when sized.is_business_email then {{ var('fit_points')['business_email'] }} else 0 end
            as business_email_points,
        case when sized.quiz_use_case is not null then {{ var('fit_points')['quiz_use_case'] }} else 0 end
            as quiz_use_case_points,

        -- booleans
        sized.is_decision_maker,
        icp_industries.industry is not null as is_icp_industry,
        icp_countries.country is not null as is_icp_country,
        coalesce(sized.is_business_email, false) as is_business_email

    from sized
    left join icp_industries
        on lower(trim(sized.industry)) = icp_industries.industry
    left join icp_countries
        on lower(trim(sized.country)) = icp_countries.country

),

final as (

    select
        *,
        least(
            100,
            seniority_points + company_size_points + industry_points + country_points
            + business_email_points + quiz_use_case_points + lead_source_points + quiz_role_points
        ) as fit_score
    from pointed

)

select * from final
