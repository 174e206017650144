select
    chat_id,
    user_id,
    name,
    username,
    phone,
    pulled_at as loaded_at
from {{ source('telegram', 'telegram_chat_members') }}
