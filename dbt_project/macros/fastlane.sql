{#
    The fast lane (plugins/leadflow/fastlane/) builds the same models for a handful of people into its
    own schemas: with target `fastlane`, a model or test schema `x` becomes `fastlane_x`, so a scoped run
    never touches the batch's staging/intermediate/marts. Seeds and snapshots keep their shared schemas
    (the fast lane reads the batch's settings and never writes history). Any other target: no prefix.
#}
{% macro fastlane_schema_prefix(node) -%}
    {%- if target.name == 'fastlane' and node.resource_type not in ('seed', 'snapshot') -%}
        fastlane_
    {%- endif -%}
{%- endmacro %}
