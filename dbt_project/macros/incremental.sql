{#
  Incremental marts. Every staging model exposes `loaded_at` (when the raw row was last written) and every
  incremental model stores, per row, the newest `loaded_at` it was built from. A run recomputes everything from
  the earliest day/week touched by rows loaded since then (a late or corrected record reaches back as far as it
  needs to); the rest of the table is kept. Client re-mapping, churn.yml or model changes make Dagster run a full
  refresh (orchestration/dbt.py).
#}

{# the newest load stamp this model has already seen #}
{% macro watermark() -%}
    (select coalesce(max(loaded_at), timestamp '1900-01-01') from {{ this }})
{%- endmacro %}

{# `and <column> >= <cutoff>` on incremental runs (nothing on a full build) #}
{% macro from_cutoff(column, cutoff='(select day from cutoff)', slack='interval 1 day') -%}
    {%- if is_incremental() %} and {{ column }} >= {{ cutoff }} - {{ slack }}{% endif -%}
{%- endmacro %}

{# a rebuilt row may change without any of its own inputs changing (a window, a re-anchored stock): on
   incremental runs every rebuilt row carries the batch's newest load stamp, so the models downstream see it #}
{% macro batch_loaded_at(column) -%}
    {%- if is_incremental() -%}(select stamp from cutoff){%- else -%}{{ column }}{%- endif -%}
{%- endmacro %}
