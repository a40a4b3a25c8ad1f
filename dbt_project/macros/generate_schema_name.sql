{#
    Custom schema names are used as-is (staging, intermediate, marts, settings, snapshots),
    not prefixed with the target schema; models without one land in the target schema.
    Target `fastlane` prefixes them with `fastlane_` (macros/fastlane.sql).
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ fastlane_schema_prefix(node) }}{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
