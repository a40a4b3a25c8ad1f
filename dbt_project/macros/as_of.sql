{#
    "Now" for every window and decay: var('as_of') when set (ISO-8601, read as UTC without an offset),
    else the environment variable LEADFLOW_AS_OF, else the start of this dbt invocation. Models call this
    instead of now(). The pipeline passes its as-of in LEADFLOW_AS_OF: a --vars value that changes every
    run makes dbt re-parse the whole project each time, while an env_var read in a macro keeps partial
    parsing (and every run's as-of is still rendered fresh when the models compile).
#}
{% macro as_of() -%}
    {%- set value = var('as_of', none) or env_var('LEADFLOW_AS_OF', '') -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {%- set value = run_started_at.strftime('%Y-%m-%dT%H:%M:%S.%f') ~ '+00:00' -%}
    {%- else -%}
        {%- set value = value | string | trim -%}
        {%- if not modules.re.search('(Z|[+-][0-9]{2}(:?[0-9]{2})?)$', value) -%}
            {%- set value = value ~ '+00:00' -%}
        {%- endif -%}
    {%- endif -%}
    cast('{{ value }}' as timestamptz)
{%- endmacro %}
