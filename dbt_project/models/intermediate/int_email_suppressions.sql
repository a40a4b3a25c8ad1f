-- One row per suppressed email (normalised), whatever the number of raw rows and reasons.
with

suppressions as (

    select * from {{ ref('stg_consent__suppressions') }}
    where email is not null

),

ranked as (

    select
        email,
        reason,
        added_at,
        row_number() over (
            partition by email
            order by
                case reason
                    when 'do_not_contact' then 1
                    when 'unsubscribed' then 2
                    when 'bounced' then 3
                    when 'competitor' then 4
                    when 'customer' then 5
                    else 6
                end,
                added_at
        ) as reason_rank
    from suppressions

),

final as (

    select
        email,
        max(reason) filter (where reason_rank = 1) as suppression_reason,
        string_agg(distinct reason, ', ' order by reason) as suppression_reasons,
        bool_or(reason = 'customer') as is_customer,
        bool_or(reason = 'competitor') as is_competitor,
        min(added_at) as first_suppressed_at
    from ranked
    group by email

)

select * from final
