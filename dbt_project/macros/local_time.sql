{# a naive UTC timestamp → the team's local time (var `timezone`, C360_TIMEZONE passed by Dagster) #}
{% macro local_time(column) -%}
    (({{ column }} at time zone 'UTC') at time zone '{{ var("timezone", "Europe/Moscow") }}')
{%- endmacro %}
