{# «today» in the team's timezone: var `today` (YYYY-MM-DD), which Dagster passes from Settings.today() so that
   C360_TODAY pins it; without it, the real date there #}
{% macro today() -%}
    {%- if var("today", none) -%}
    date '{{ var("today") }}'
    {%- else -%}
    cast({{ local_time("(now() at time zone 'UTC')") }} as date)
    {%- endif -%}
{%- endmacro %}
