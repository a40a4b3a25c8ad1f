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

signals as (

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
    {% if is_incremental() -%}
    where {{ written_since_last_run('processed_at', 'signals_processed_at') }}
    {%- endif %}

),

{% if is_incremental() -%}
-- events already attributed whose person key resolved anew since the last run
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
                where {{ written_since_last_run('person_leads.resolved_at', 'attributed_at') }}
            )
        )

),
{%- endif %}

candidates as (

    select * from signals
    {%- if is_incremental() %}
    union
    select * from reattributed
    {%- endif %}

),

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
    {{ run_stamp() }} as attributed_at,
    {{ previous_value('lead_id', 'text') }} as previous_lead_id,
    {{ previous_value('signal_id', 'text') }} is null as is_first_write
from attributed
{{ only_new_or_changed('attributed', 'signal_id', [
    'lead_id', 'person_key', 'workspace_id', 'signal_name', 'signal_detail', 'occurred_at'
]) }}
