{# `text` cut to at most `n` characters at a word boundary, «…» where it was cut (for reasons and messages) #}
{% macro clip_words(text, n) -%}
    case when length({{ text }}) <= {{ n }} then {{ text }}
         else rtrim(regexp_replace(left({{ text }}, {{ n }} + 1), '\s+\S*$', ''), ' ,;:—–-') || '…' end
{%- endmacro %}
