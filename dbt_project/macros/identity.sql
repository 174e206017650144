{#- The client a WMS account's records belong to: the lead of the alias file, else the lead its INN matched
    (assets/identity, status applied), else a provisional identity of its own, `wms-<id>`, so that an account nobody
    has linked yet is still a client: scored, alerted on, shown. One CTE body, used by every WMS staging model. -#}
{% macro wms_client_identity() %}
    select
        w.wms_client_id,
        coalesce(w.client_id, i.lead_id, {{ provisional_client_id('w.wms_client_id') }}) as client_id,
        case when w.client_id is not null then 'file' when i.lead_id is not null then 'inn' end as linked_by
    from {{ source('wms', 'wms_clients') }} as w
    left join {{ source('identity', 'identity_candidates') }} as i
        on i.system = 'wms_client' and i.external_id = w.wms_client_id and i.status = 'applied'
{% endmacro %}

{#- the provisional client id of a WMS account linked to no lead (warehouse/refs.py PROVISIONAL_PREFIX) -#}
{% macro provisional_client_id(wms_client_id) -%}
    'wms-' || {{ wms_client_id }}
{%- endmacro %}
