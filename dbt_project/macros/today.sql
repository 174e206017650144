{# «today» in the team's timezone: var `today` (YYYY-MM-DD), which Dagster passes from Settings.today() so that
   C360_TODAY pins it; without it, the real date there #}
{% macro today() -%}
    {%- if var("today", none) -%}
    date '{{ var("today") }}'
    {%- else -%}
    cast(now() at time zone '{{ var("timezone", "Europe/Moscow") }}' as date)
    {%- endif -%}
{%- endmacro %}
