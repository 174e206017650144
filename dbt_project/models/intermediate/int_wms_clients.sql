-- every WMS account with the client its records belong to (macros/identity.sql): a lead (linked by the alias file
-- or its INN) or, linked to none, its provisional identity `wms-<id>`
with

identity as (
    {{- wms_client_identity() }}
)

select
    c.wms_client_id,
    i.client_id,
    case when i.linked_by is not null then i.client_id end as lead_id,
    i.linked_by,
    c.name,
    c.inn
from {{ ref('stg_wms__clients') }} as c
left join identity as i using (wms_client_id)
