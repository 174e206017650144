select
    user_id,
    name,
    email,
    active,
    pulled_at as loaded_at
from {{ source('bitrix24', 'bitrix_users') }}
