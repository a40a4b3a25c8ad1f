{#
    "Now" for every window and decay: var('as_of') when set (ISO-8601, read as UTC without an offset),
    else the start of this dbt invocation. Models call this instead of now().
#}
{% macro as_of() -%}
    {%- set value = var('as_of', none) -%}
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
