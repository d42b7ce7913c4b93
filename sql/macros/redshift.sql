{#- Amazon Redshift: distribution style or key, and a compound sort key; no secondary indexes. -#}

{% macro redshift__table_options(diststyle=none, distkey=none, sortkey=none) -%}
{%- if diststyle %}
    diststyle {{ diststyle }}
{%- endif %}
{%- if distkey %}
    distkey ({{ distkey }})
{%- endif %}
{%- if sortkey %}
    sortkey ({{ sortkey | join(', ') }})
{%- endif %}
{%- endmacro %}
