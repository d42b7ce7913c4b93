{#- PostgreSQL: no distribution or sort keys; indexes keep an hourly run's reads proportional to the hour. -#}

{% macro postgres__index(name, table, columns) -%}
create index if not exists {{ name }} on {{ table }} ({{ columns | join(', ') }});
{%- endmacro %}
