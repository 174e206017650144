{# a number as Russians write it: rounded, thousands apart by a no-break space («6 052») #}
{% macro ru_int(expr) -%}
    replace(format('{:,}', cast(round({{ expr }}) as bigint)), ',', chr(160))
{%- endmacro %}
