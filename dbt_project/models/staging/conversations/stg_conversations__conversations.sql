{#
    Conversations. topics: the platform's topics as a JSON array of known topics. A topic named in
    seeds/topic_bant_dimensions.csv is kept as it is (lower-cased); free text ("Asked about pricing for 20 seats",
    or a whole CSV field of it, stored by the pull as one JSON string) becomes every topic whose keyword in
    seeds/topic_keywords.csv starts a word in it (pricing); text no keyword matches is kept lower-cased.
    raw_topics: what the platform sent.
#}
with

source as (

    select * from {{ source('conversations', 'conversations') }}

),

known_topics as (

    select lower(trim(topic)) as topic from {{ ref('topic_bant_dimensions') }}

),

topic_keywords as (

    select
        lower(trim(topic)) as topic,
        lower(trim(keyword)) as keyword,
        -- the keyword as a regular expression that starts a word, its special characters escaped
        '\m' || regexp_replace(lower(trim(keyword)), '([.*+?^${}()|\[\]\\])', '\\\1', 'g') as keyword_pattern
    from {{ ref('topic_keywords') }}

),

topic_texts as (

    select
        source.conversation_id,
        elements.position,
        lower(trim(elements.value)) as topic_text
    from source
    cross join
        lateral jsonb_array_elements_text(
            case jsonb_typeof(source.topics)
                when 'array' then source.topics
                when 'string' then jsonb_build_array(source.topics)
                else '[]'::jsonb
            end
        ) with ordinality as elements (value, position)
    where nullif(trim(elements.value), '') is not null

),

classified as (

    select
        topic_texts.conversation_id,
        topic_texts.position,
        topic_texts.topic_text,
        known_topics.topic is not null as is_known
    from topic_texts
    left join known_topics
        on topic_texts.topic_text = known_topics.topic

),

-- free text: every topic one of whose keywords starts a word in it
keyword_matches as (

    select
        classified.conversation_id,
        classified.position,
        topic_keywords.topic,
        min(strpos(classified.topic_text, topic_keywords.keyword)) as rank_in_text
    from classified
    inner join topic_keywords
        on classified.topic_text ~ topic_keywords.keyword_pattern
    where not classified.is_known
    group by classified.conversation_id, classified.position, topic_keywords.topic

),

matched_texts as (

    select distinct
        conversation_id,
        position
    from keyword_matches

),

mapped as (

    -- a known topic as it is
    select
        conversation_id,
        position,
        0 as rank_in_text,
        topic_text as topic
    from classified
    where is_known

    union all

    select
        conversation_id,
        position,
        rank_in_text,
        topic
    from keyword_matches

    union all

    -- text no keyword matches: kept, lower-cased
    select
        classified.conversation_id,
        classified.position,
        0 as rank_in_text,
        classified.topic_text as topic
    from classified
    left join matched_texts
        on
            classified.conversation_id = matched_texts.conversation_id
            and classified.position = matched_texts.position
    where not classified.is_known and matched_texts.conversation_id is null

),

distinct_topics as (

    select
        conversation_id,
        topic,
        min(position) as first_position,
        min(rank_in_text) as first_rank
    from mapped
    group by conversation_id, topic

),

topics_per_conversation as (

    select
        conversation_id,
        jsonb_agg(topic order by first_position, first_rank, topic) as topics
    from distinct_topics
    group by conversation_id

),

renamed as (

    select
        -- ids
        source.conversation_id,

        -- strings
        {{ normalize_email('source.email') }} as email,
        lower(trim(source.channel)) as channel,
        nullif(lower(trim(source.outcome)), '') as outcome,
        source._batch_id as batch_id,
        source._source_location as source_location,

        -- numerics
        coalesce(source.visitor_message_count, 0) as visitor_message_count,
        coalesce(source.agent_message_count, 0) as agent_message_count,

        -- json
        coalesce(topics_per_conversation.topics, '[]'::jsonb) as topics,
        source.topics as raw_topics,

        -- timestamps
        source.started_at,
        source.ended_at,
        source.updated_at,
        source._loaded_at as loaded_at

    from source
    left join topics_per_conversation
        on source.conversation_id = topics_per_conversation.conversation_id

)

select * from renamed
