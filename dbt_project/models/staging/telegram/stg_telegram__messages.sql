with

messages as (
    select * from {{ source('telegram', 'telegram_messages') }}
),

chats as (
    select chat_id, client_id, title from {{ source('telegram', 'telegram_chats') }}
),

renamed as (
    select
        ---------- ids
        c.client_id,
        m.chat_id,
        m.message_id,
        {{ source_ref('telegram', 'm.chat_id', 'm.message_id') }} as ref,
        m.sender_id,
        m.reply_to_id,
        ---------- attributes
        c.title as chat_title,
        m.sender_name,
        m.direction,
        m.kind,
        m.text,
        m.original_text,
        m.forwarded_from,
        m.media_kind,
        m.media_name,
        m.media_size,
        m.service_action,
        m.raw,
        m.source,
        ---------- timestamps (UTC)
        m.sent_at,
        m.edited_at,
        m.ingested_at as loaded_at
    from messages as m
    left join chats as c using (chat_id)
)

select * from renamed
