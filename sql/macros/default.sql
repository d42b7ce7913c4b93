{#- Dialect macros, dispatched by warehouse target in the spirit of dbt's adapter.dispatch: a DDL file
    calls table_options(...) or index(...); the renderer resolves each to <dialect>__<name> from
    macros/<dialect>.sql when that file defines it, else to default__<name> below. A new target adds
    macros/<its dialect>.sql with the overrides it needs and touches no DDL file. -#}

{#- Physical layout of a table: distribution and sort keys. Most engines have none. -#}
{% macro default__table_options(diststyle=none, distkey=none, sortkey=none) -%}
{%- endmacro %}

{#- A secondary index, on engines that use them to keep an hourly run's reads small. -#}
{% macro default__index(name, table, columns) -%}
{%- endmacro %}
