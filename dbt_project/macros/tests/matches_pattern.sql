{#
    Fails for rows where the column does not match the POSIX regular expression (PostgreSQL's ~ operator).
    Nulls pass; combine with not_null when they should not.
#}
{% test matches_pattern(model, column_name, pattern) %}

select *
from {{ model }}
where {{ column_name }} !~ '{{ pattern | replace("'", "''") }}'

{% endtest %}
