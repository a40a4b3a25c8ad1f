{# Helpers that turn settings from dbt_project.yml `vars:` into SQL. #}

{# One value of a setting as a SQL string literal: 'o''brien'. #}
{% macro sql_text(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{# A quoted SQL list from a list var: ('a', 'b'). An empty list gives (null), which matches nothing. #}

{% macro sql_list(values) -%}
    {%- if values | length == 0 -%}
        (null)
    {%- else -%}
        ({% for value in values %}'{{ value | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}

{# The `signals` var as rows: signal_name, category, points, cap. #}
{% macro signal_settings_values() -%}
    {%- set signals = var('signals') -%}
    select *
    from (
        values
        {%- for name, setting in signals.items() %}
            (
                '{{ name }}',
                '{{ setting.category }}',
                cast({{ setting.points }} as double precision),
                cast({{ setting.cap }} as double precision)
            ){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as signal_settings (signal_name, category, points, cap)
{%- endmacro %}

{# The `company_size_bands` var as rows: size_band, min_employees, max_employees, points. #}
{% macro company_size_band_values() -%}
    select *
    from (
        values
        {%- for band in var('company_size_bands') %}
            (
                '{{ band.band }}',
                cast({{ band.min_employees }} as bigint),
                cast({{ band.max_employees }} as bigint),
                cast({{ band.points }} as numeric)
            ){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as company_size_bands (size_band, min_employees, max_employees, points)
{%- endmacro %}

{# A CASE mapping a qualification type column to a setting from a per-type map var. #}
{% macro case_by_type(column, mapping, cast_as='text') -%}
    case {{ column }}
        {%- for type_name, value in mapping.items() %}
        when '{{ type_name }}' then cast('{{ value }}' as {{ cast_as }})
        {%- endfor %}
    end
{%- endmacro %}

{# The `destinations` var as rows: route, destination. #}
{% macro destination_values() -%}
    select *
    from (
        values
        {%- set rows = [] -%}
        {%- for route, destinations in var('destinations').items() -%}
            {%- for destination in destinations -%}
                {%- do rows.append((route, destination)) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- for route, destination in rows %}
            ('{{ route }}', '{{ destination }}'){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as destinations (route, destination)
{%- endmacro %}
