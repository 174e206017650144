{#
  Incremental marts. Every staging model exposes `loaded_at` (when the raw row was last written) and every
  incremental model stores, per row, the load stamp it was built from. A run recomputes everything from the
  earliest day/week touched by rows loaded since then (a late or corrected record reaches back as far as it needs
  to); the rest of the table is kept. Client re-mapping, churn.yml or model changes make Dagster run a full
  refresh (orchestration/dbt.py).

  The watermark and the cutoff are queried first and put into the SQL as literals, so DuckDB can skip the row
  groups of the big raw tables that lie before them (a subquery in the filter would scan every row).
#}

{# the first row of a query as a list (at execution time; during parsing: Nones) #}
{% macro first_row(sql, width=1) %}
    {% if execute %}
        {% set table = run_query(sql) %}
        {% if table.rows | length > 0 %}{{ return(table.rows[0].values() | list) }}{% endif %}
    {% endif %}
    {{ return([none] * width) }}
{% endmacro %}

{% macro ts_literal(value, default='1900-01-01') -%}
    timestamp '{{ value if value is not none else default }}'
{%- endmacro %}

{% macro date_literal(value, default='9999-01-04') -%}
    date '{{ value if value is not none else default }}'
{%- endmacro %}

{# the newest load stamp this model has already seen, as a literal #}
{% macro watermark() -%}
    {%- set row = first_row("select max(loaded_at) from " ~ this) -%}
    {{ ts_literal(row[0]) }}
{%- endmacro %}

{# `and <column> >= <cutoff>` on incremental runs (nothing on a full build) #}
{% macro from_cutoff(column, cutoff, slack='interval 1 day') -%}
    {%- if is_incremental() %} and {{ column }} >= {{ cutoff }} - {{ slack }}{% endif -%}
{%- endmacro %}

{# a rebuilt row may change without any of its own inputs changing (a window, a re-anchored stock): on
   incremental runs every rebuilt row carries the batch's newest load stamp, so the models downstream see it #}
{% macro batch_loaded_at(column, stamp) -%}
    {%- if is_incremental() -%}{{ stamp }}{%- else -%}{{ column }}{%- endif -%}
{%- endmacro %}
