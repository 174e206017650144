{% test unique_combination(model, columns) %}
{# the combination of `columns` is unique (dbt_utils' unique_combination_of_columns, without the package) #}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
