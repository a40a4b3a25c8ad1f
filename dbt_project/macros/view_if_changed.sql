{#
    Views (staging, int_lead_signals, lead_score_contributions) as dbt's default view materialization
    builds them, except that a view whose compiled SQL is the one it was created with is left alone:
    a view reads its tables when queried, so re-creating it only costs DDL, locks and dbt round trips.
    The md5 of the SQL is kept as the view's comment; a view dropped with a table it reads (a table
    rebuild drops it with CASCADE) has no comment and is created again; --full-refresh re-creates all.
#}
{%- materialization view, adapter='postgres' -%}

    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set signature = tojson({'view_sql_md5': local_md5(sql)}) -%}

    {%- if not should_full_refresh() -%}
        {%- call statement('main', fetch_result=True) -%}
            select obj_description(to_regclass('{{ this.include(database=false) }}'), 'pg_class') as signature
        {%- endcall -%}
        {%- if load_result('main')['data'][0][0] == signature -%}
            {{ run_hooks(pre_hooks, inside_transaction=False) }}
            {{ run_hooks(pre_hooks, inside_transaction=True) }}
            {{ run_hooks(post_hooks, inside_transaction=True) }}
            {{ adapter.commit() }}
            {{ run_hooks(post_hooks, inside_transaction=False) }}
            {{ return({'relations': [target_relation]}) }}
        {%- endif -%}
    {%- endif -%}

    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
    {%- set backup_relation_type = 'view' if existing_relation is none else existing_relation.type -%}
    {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
    {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
    {% set grant_config = config.get('grants') %}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
    {{ drop_relation_if_exists(preexisting_backup_relation) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% call statement('main') -%}
        {{ get_create_view_as_sql(intermediate_relation, sql) }}
    {%- endcall %}

    {% if existing_relation is not none %}
        {% set existing_relation = load_cached_relation(existing_relation) %}
        {% if existing_relation is not none %}
            {{ adapter.rename_relation(existing_relation, backup_relation) }}
        {% endif %}
    {% endif %}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}
    {% do run_query('comment on view ' ~ target_relation ~ " is '" ~ signature ~ "'") %}

    {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
    {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ drop_relation_if_exists(backup_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}

{%- endmaterialization -%}
