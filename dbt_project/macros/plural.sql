{#- "1 day", "3 days": a count and its noun, singular for exactly one (reasons text reads as English). -#}
{% macro plural(count_sql, noun) -%}
    ({{ count_sql }})::text || case when ({{ count_sql }}) = 1 then ' {{ noun }}' else ' {{ noun }}s' end
{%- endmacro %}
