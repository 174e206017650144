select
    requisite_id,
    entity_type_id,
    entity_id,
    name,
    company_name,
    inn,
    raw,
    pulled_at as loaded_at
from {{ source('bitrix24', 'bitrix_requisites') }}
