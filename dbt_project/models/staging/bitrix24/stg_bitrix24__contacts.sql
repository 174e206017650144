select
    contact_id,
    name,
    company_id,
    assigned_by_id,
    phones,
    emails,
    messengers,
    raw,
    pulled_at as loaded_at
from {{ source('bitrix24', 'bitrix_contacts') }}
