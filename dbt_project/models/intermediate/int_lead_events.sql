{#
    Incremental, event-sized: every behavioural event of int_signals with the lead its person key
    resolves to (int_person_leads; null while the person is anonymous). No setting and no as_of is
    applied here, so nothing in it goes stale when a weight or the clock changes.
    An incremental run writes only rows that are new or changed: events int_signals wrote since the last
    run (signals_processed_at) and events of person keys whose lead changed since then. attributed_at is the run
    that wrote the row; previous_lead_id the lead it belonged to before a re-attribution; is_first_write
    whether that write was the event's first (int_lead_signal_totals adds such events to its totals instead
    of recounting the pair's whole history).
#}
{{
    config(
        materialized='incremental',
        unique_key='signal_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['signal_id'], 'unique': true},
            {'columns': ['person_key']},
            {'columns': ['signal_name', 'lead_id']},
            {'columns': ['attributed_at']},
            {'columns': ['signals_processed_at']},
        ],
    )
}}

with

person_leads as (

    select * from {{ ref('int_person_leads') }}

),

{% if is_incremental() -%}
last_attributed as (

    select coalesce(max(attributed_at), '-infinity'::timestamptz) as attributed_at
    from {{ this }}

),

new_signals as (

    select
        signal_id,
        person_key,
        workspace_id,
        source,
        signal_name,
        signal_detail,
        occurred_at,
        loaded_at,
        processed_at as signals_processed_at
    from {{ ref('int_signals') }}
    where processed_at > {{ processed_watermark() }}

),

reattributed as (

    select
        this.signal_id,
        this.person_key,
        this.workspace_id,
        this.source,
        this.signal_name,
        this.signal_detail,
        this.occurred_at,
        this.loaded_at,
        this.signals_processed_at
    from {{ this }} as this
    -- = any(array(...)): an index lookup per changed key, whatever the planner guesses about their number
    where
        this.person_key = any(
            array(
                select person_leads.person_key
                from person_leads
                where person_leads.resolved_at > (select last_attributed.attributed_at from last_attributed)
            )
        )

),

candidates as (

    select * from new_signals
    union
    select * from reattributed

),
{%- else -%}
candidates as (

    select
        signal_id,
        person_key,
        workspace_id,
        source,
        signal_name,
        signal_detail,
        occurred_at,
        loaded_at,
        processed_at as signals_processed_at
    from {{ ref('int_signals') }}

),
{%- endif %}

attributed as (

    select
        candidates.signal_id,
        person_leads.lead_id,
        candidates.person_key,
        candidates.workspace_id,
        candidates.source,
        candidates.signal_name,
        candidates.signal_detail,
        candidates.occurred_at,
        candidates.loaded_at,
        candidates.signals_processed_at
    from candidates
    left join person_leads
        on candidates.person_key = person_leads.person_key

)

select
    attributed.*,
    cast('{{ run_started_at }}' as timestamptz) as attributed_at,
    {% if is_incremental() -%}
    previous.lead_id as previous_lead_id,
    previous.signal_id is null as is_first_write
    {%- else -%}
    cast(null as text) as previous_lead_id,
    true as is_first_write
    {%- endif %}
from attributed
{% if is_incremental() %}
left join {{ this }} as previous
    on attributed.signal_id = previous.signal_id
where
    previous.signal_id is null
    or (
        attributed.lead_id, attributed.person_key, attributed.workspace_id, attributed.signal_name,
        attributed.signal_detail, attributed.occurred_at
    ) is distinct from (
        previous.lead_id, previous.person_key, previous.workspace_id, previous.signal_name,
        previous.signal_detail, previous.occurred_at
    )
{% endif %}
