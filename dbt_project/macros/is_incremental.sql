{#
    dbt's is_incremental(), with one switch for linting: LEADFLOW_LINT_INCREMENTAL=1 renders every
    incremental model's incremental branch, so sqlfluff lints the SQL an incremental run executes
    (an empty warehouse renders only the full-build branch). Unset, it is exactly dbt's macro.
#}
{% macro is_incremental() -%}
    {{ return(lint_incremental() or dbt.is_incremental()) }}
{%- endmacro %}

{# True while `make lint-sql` renders the incremental branches: macros then run no query against {{ this }}. #}
{% macro lint_incremental() -%}
    {{ return(env_var('LEADFLOW_LINT_INCREMENTAL', '') == '1') }}
{%- endmacro %}
