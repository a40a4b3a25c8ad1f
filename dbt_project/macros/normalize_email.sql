{#
    An e-mail address as an identity key: lower case, without surrounding spaces. The one SQL definition of
    it: every staging model uses it, and the fast lane renders this file for its lookups on raw
    (plugins/leadflow/pull/rules.py, EMAIL_RULE.sql_key; EMAIL_RULE.key is the same rule in Python, and
    tests/pull/test_rules.py runs both over the same addresses). Plain SQL, no dbt function: Python
    renders it with Jinja alone.
#}
{% macro normalize_email(column) -%}
    lower(trim({{ column }}))
{%- endmacro %}
