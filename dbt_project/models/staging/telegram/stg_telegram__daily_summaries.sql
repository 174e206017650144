with source as (
    select * from {{ source('telegram', 'telegram_daily_summaries') }}
)

select
    client_id,
    day,
    messages,
    client_messages,
    staff_messages,
    summary_text,
    json_extract_string(summary, '$.tone') as tone,
    json_extract_string(summary, '$.summary') as gist,
    'telegram_day:' || client_id || ':' || day as ref,
    summarized_at as loaded_at
from source
