select
    chat_id,
    client_id,
    title,
    chat_type,
    mapped_by,
    mapped_title,
    title_lead,
    source,
    first_seen_at,
    updated_at,
    updated_at as loaded_at
from {{ source('telegram', 'telegram_chats') }}
