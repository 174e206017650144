-- per lead: its title, its company's and contact's names, and the INN of each of their requisites (a lead without
-- requisites: one row, INN empty) — what a WMS client is matched on (assets/identity)
with

leads as (
    select client_id, title, contact_id, company_id
    from {{ ref('stg_bitrix24__leads') }}
)

select
    l.client_id,
    l.title as lead_title,
    co.title as company_title,
    ct.name as contact_name,
    r.company_name as requisite_name,
    r.inn,
    case r.entity_type_id when 4 then 'company' when 3 then 'contact' end as inn_of
from leads as l
left join {{ ref('stg_bitrix24__companies') }} as co using (company_id)
left join {{ ref('stg_bitrix24__contacts') }} as ct using (contact_id)
left join {{ ref('stg_bitrix24__requisites') }} as r
    on (r.entity_type_id = 4 and r.entity_id = l.company_id) or (r.entity_type_id = 3 and r.entity_id = l.contact_id)
