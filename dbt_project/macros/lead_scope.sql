{#
    Lead-scoped models (materialized='lead_scoped'): lead-level tables that an incremental run rewrites
    only for the leads whose inputs changed, and rebuilds in full whenever anything else may have changed.

    int_lead_changes logs, per run, the leads touched by new behavioural data (events written or
    re-attributed, workspaces whose activation was recomputed) and a data signature: as_of, every
    setting, the seeds and the row count / latest load of every raw table that is not an event
    stream. A lead-scoped model keeps in its table comment a fingerprint (its own SQL with the scope
    filter set to `true`, the fingerprints of its ancestors and the data signature) and the last
    int_lead_changes run it has folded in. A run then:
    - rebuilds the table (create + swap, as materialized='table') when it does not exist, on
      --full-refresh, or when the fingerprint differs: another as_of, a changed setting, seed, model,
      macro or non-event source, an ancestor rebuilt in full;
    - otherwise deletes the rows of the leads logged since its last run and inserts them again,
      computed by the same SQL with lead_scope(...) filters limiting every large input to those leads.
#}

{# Every var in dbt_project.yml (tests/transform checks the list): any change rebuilds lead-scoped models. #}
{% macro lead_scope_var_names() -%}
    {{ return([
        'as_of', 'incremental_lookback_hours', 'decay_half_life_days', 'decay_epoch', 'signals', 'fit_points',
        'company_size_bands', 'total_score_weights', 'mql_min_fit_score', 'mql_min_engagement_score',
        'sql_buying_actions', 'sql_buying_outcomes', 'sql_window_days', 'sql_min_bant_dimensions',
        'quiz_known_timelines', 'quiz_unknown_budgets', 'pql_activation_window_days', 'pql_min_projects',
        'pql_min_teammates_invited', 'pql_usage_window_days', 'pql_min_session_days', 'pql_min_features',
        'pql_min_seats', 'pql_min_depth_criteria', 'pql_window_days', 'conversation_channels',
        'conversation_min_visitor_messages', 'conversation_min_minutes', 'conversation_window_days',
        'hot_window_hours', 'hot_min_pricing_views', 'hot_quiz_min_score', 'hot_cart_abandon_grace_minutes',
        'competitor_domains', 'qualification_type_precedence', 'routes', 'sla_minutes', 'destinations',
        'funnel_unknown_lead_source', 'conversion_window_days', 'raw_schema'
    ]) }}
{%- endmacro %}

{# The settings part of the data signature: as_of as resolved for this run, plus every var. #}
{% macro lead_scope_settings_json() -%}
    {%- set values = {'resolved_as_of': as_of() | string} -%}
    {%- for name in lead_scope_var_names() -%}
        {%- do values.update({name: var(name, none)}) -%}
    {%- endfor -%}
    {{ return(tojson(values, sort_keys=true)) }}
{%- endmacro %}

{# The previous state of this lead-scoped model (its table comment, or none) and the latest change log run. #}
{% macro lead_scope_state() -%}
    {%- set changes = ref('int_lead_changes') -%}
    {%- if load_relation(changes) is none -%}
        {#- not built yet (dbt compile on a fresh warehouse): nothing to scope by -#}
        {{ return({'previous': none, 'data_signature': none, 'until': none}) }}
    {%- endif -%}
    {%- set query -%}
        with previous as (
            select obj_description(to_regclass('{{ this.include(database=false) }}'), 'pg_class') as description
        )
        select
            case when previous.description like '{"lead_scope"%' then previous.description end as previous,
            (
                select changes.data_signature from {{ changes }} as changes
                order by changes.changed_at desc limit 1
            ) as data_signature,
            (select cast(max(changes.changed_at) as text) from {{ changes }} as changes) as until,
            -- runs this model has not folded in were pruned from the log
            case when previous.description like '{"lead_scope"%' then
                cast(cast(previous.description as jsonb) #>> '{lead_scope,until}' as timestamptz)
                < (select min(changes.changed_at) from {{ changes }} as changes)
            end as is_behind_log
        from previous
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {%- set previous = none -%}
    {%- if row['previous'] and not row['is_behind_log'] -%}
        {%- set previous = fromjson(row['previous'])['lead_scope'] -%}
    {%- endif -%}
    {{ return({'previous': previous, 'data_signature': row['data_signature'], 'until': row['until']}) }}
{%- endmacro %}

{#
    A filter limiting `column` (a lead id) to the leads changed since this model's last run, when the
    model runs scoped; `true` otherwise. The filter is marked so the materialization can set it to
    `true` for a full rebuild and fingerprint the SQL independently of the run.
#}
{% macro lead_scope(column) -%}
    {#- unit tests check the rules on their own rows: no change log there -#}
    {%- if model.resource_type == 'unit_test' -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set changes = ref('int_lead_changes') -%}
    {%- if execute and model.config.materialized == 'lead_scoped' and not should_full_refresh() -%}
        {%- set state = lead_scope_state() -%}
        {%- if state.previous is not none -%}
            /* lead_scope */ {{ column }} in (
                select changes.lead_id from {{ changes }} as changes
                where changes.changed_at > cast('{{ state.previous.until }}' as timestamptz)
                    and changes.lead_id is not null
            ) /* end lead_scope */
        {%- else -%}
            true
        {%- endif -%}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro lead_scope_region_pattern() -%}
    {{ return('/\\* lead_scope \\*/.*?/\\* end lead_scope \\*/') }}
{%- endmacro %}

{#
    What this model's rows depend on besides the changed leads: its SQL with the scope filters set to
    `true`, the ancestors' fingerprints (the comment a table keeps, else the file checksum) and the data
    signature of this run.
#}
{% macro lead_scope_fingerprint(full_sql, data_signature) -%}
    {%- set ancestors = [] -%}
    {%- set queue = [] -%}
    {%- do queue.extend(model.depends_on.nodes) -%}
    {%- for unique_id in queue -%}
        {%- if unique_id not in ancestors and unique_id in graph.nodes -%}
            {%- do ancestors.append(unique_id) -%}
            {%- do queue.extend(graph.nodes[unique_id].depends_on.nodes or []) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set relations = [] -%}
    {%- for unique_id in ancestors | sort -%}
        {%- set node = graph.nodes[unique_id] -%}
        {%- if node.resource_type in ('model', 'seed', 'snapshot') -%}
            {%- do relations.append("('" ~ node.schema ~ "', '" ~ (node.alias or node.name) ~ "')") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set comments = {} -%}
    {%- if relations -%}
        {%- set query -%}
            select namespaces.nspname || '.' || classes.relname as relation_name,
                obj_description(classes.oid, 'pg_class') as description
            from pg_class as classes
            inner join pg_namespace as namespaces on classes.relnamespace = namespaces.oid
            where (namespaces.nspname, classes.relname) in ({{ relations | join(', ') }})
        {%- endset -%}
        {%- for row in run_query(query).rows -%}
            {%- do comments.update({row['relation_name']: row['description'] or ''}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set parts = [local_md5(full_sql), data_signature or ''] -%}
    {%- for unique_id in ancestors | sort -%}
        {%- set node = graph.nodes[unique_id] -%}
        {%- set comment = comments.get(node.schema ~ '.' ~ (node.alias or node.name), '') -%}
        {%- if comment.startswith('{"lead_scope"') -%}
            {#- a lead-scoped ancestor: its fingerprint, not the run it last folded in -#}
            {%- do parts.append(unique_id ~ '=' ~ fromjson(comment)['lead_scope']['fingerprint']) -%}
        {%- elif comment.startswith('{"sql_md5"') -%}
            {%- do parts.append(unique_id ~ '=' ~ comment) -%}
        {%- else -%}
            {%- do parts.append(unique_id ~ '=' ~ node.checksum.checksum) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do log('lead_scope fingerprint of ' ~ this ~ ': ' ~ (parts | join('|')), info=false) -%}
    {{ return(local_md5(parts | join('|'))) }}
{%- endmacro %}

{% materialization lead_scoped, adapter='postgres' %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table') -%}
    {%- set key = config.get('lead_scope_key', 'lead_id') -%}

    {%- set state = lead_scope_state() -%}
    {%- set full_sql = modules.re.sub(lead_scope_region_pattern(), 'true', sql, flags=modules.re.S) -%}
    {%- set fingerprint = lead_scope_fingerprint(full_sql, state.data_signature) -%}
    {%- set scoped = existing_relation is not none and existing_relation.is_table and not should_full_refresh()
        and state.previous is not none and state.previous.fingerprint == fingerprint
        and '/* lead_scope */' in sql -%}
    {%- set comment = tojson({'lead_scope': {'fingerprint': fingerprint, 'until': state.until}}) -%}

    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% if scoped %}
        {#-
            Only rows that differ are written: the scope's rows are computed into a temporary table, rows
            of the scope no longer produced are deleted and new or changed ones inserted (rows compared by
            the md5 of their text, columns in the table's order). Most rows of a touched lead are unchanged,
            and a row written costs far more than a row compared.
        -#}
        {%- set names = adapter.get_columns_in_relation(target_relation) | map(attribute='name') | map('tojson') | list -%}
        {%- set columns = names | join(', ') -%}
        {%- set scoped_rows = '"' ~ this.identifier ~ '__lead_scope"' -%}
        {%- set scope -%}
            select changes.lead_id from {{ ref('int_lead_changes') }} as changes
            where changes.changed_at > cast('{{ state.previous.until }}' as timestamptz)
                and changes.lead_id is not null
        {%- endset -%}
        {% call statement('main') -%}
            create temporary table {{ scoped_rows }} on commit drop as
            select {{ columns }}, md5(cast(row({{ columns }}) as text)) as lead_scope_row_md5
            from (
                {{ sql }}
            ) as scoped_rows;
            create temporary table {{ scoped_rows[:-1] ~ '_old"' }} on commit drop as
            select
                target_rows.ctid as row_ctid,
                md5(cast(row({% for name in names %}target_rows.{{ name }}{% if not loop.last %}, {% endif %}{% endfor %}) as text))
                    as lead_scope_row_md5
            from {{ target_relation }} as target_rows
            where target_rows.{{ key }} in ({{ scope }});
            delete from {{ target_relation }} as target_rows
            using {{ scoped_rows[:-1] ~ '_old"' }} as old_rows
            where
                target_rows.ctid = old_rows.row_ctid
                and old_rows.lead_scope_row_md5 not in (select {{ scoped_rows }}.lead_scope_row_md5 from {{ scoped_rows }});
            insert into {{ target_relation }} ({{ columns }})
            select {{ columns }} from {{ scoped_rows }}
            where {{ scoped_rows }}.lead_scope_row_md5 not in (
                select old_rows.lead_scope_row_md5 from {{ scoped_rows[:-1] ~ '_old"' }} as old_rows
            )
        {%- endcall %}
    {% else %}
        {%- set build_relation = intermediate_relation if existing_relation is not none else target_relation -%}
        {% call statement('main') -%}
            {{ get_create_table_as_sql(False, build_relation, full_sql) }}
        {%- endcall %}
        {% do create_indexes(build_relation) %}
        {% if existing_relation is not none %}
            {{ adapter.rename_relation(existing_relation, backup_relation) }}
            {{ adapter.rename_relation(intermediate_relation, target_relation) }}
        {% endif %}
        {% do run_query('analyze ' ~ target_relation) %}
    {% endif %}
    {% do run_query('comment on table ' ~ target_relation ~ ' is ' ~ dbt.string_literal(comment)) %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ drop_relation_if_exists(backup_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
