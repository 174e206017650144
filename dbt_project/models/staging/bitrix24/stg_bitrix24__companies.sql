select
    company_id,
    title,
    phones,
    emails,
    raw,
    pulled_at as loaded_at
from {{ source('bitrix24', 'bitrix_companies') }}
