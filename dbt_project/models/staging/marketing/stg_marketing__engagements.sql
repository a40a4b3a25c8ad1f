{#
    Marketing engagements on any channel. The channel is read through seeds/marketing_channels.csv (alias ->
    channel: 'text message' -> sms, 'PPC' -> ads, 'trade show' -> events; unknown ones pass lower-cased). An action
    is lower-cased with spaces and hyphens as underscores; a bare verb (no underscore: 'click', 'opened',
    'reply') is named after its channel's action prefix, so 'click' on SMS is sms_click and 'open' on e-mail is
    email_open, the signal names of the `signals` var.
#}
with

source as (

    select * from {{ source('marketing', 'engagements') }}

),

channels as (

    select
        lower(trim(export_channel)) as export_channel,
        channel,
        action_prefix
    from {{ ref('marketing_channels') }}

),

normalised as (

    select
        source.*,
        lower(trim(source.channel)) as channel_text,
        case regexp_replace(lower(trim(source.action)), '[[:space:]-]+', '_', 'g')
            when 'clicked' then 'click'
            when 'opened' then 'open'
            when 'replied' then 'reply'
            else regexp_replace(lower(trim(source.action)), '[[:space:]-]+', '_', 'g')
        end as action_words
    from source

),

renamed as (

    select
        -- ids
        normalised.engagement_id,

        -- strings
        {{ normalize_email('normalised.email') }} as email,
        coalesce(channels.channel, normalised.channel_text) as channel,
        case
            when normalised.action_words !~ '_' and channels.action_prefix is not null
                then channels.action_prefix || '_' || normalised.action_words
            else normalised.action_words
        end as action,
        normalised.asset_name,
        normalised._batch_id as batch_id,
        normalised._source_location as source_location,

        -- timestamps
        normalised.occurred_at,
        normalised._loaded_at as loaded_at

    from normalised
    left join channels
        on normalised.channel_text = channels.export_channel

)

select * from renamed
