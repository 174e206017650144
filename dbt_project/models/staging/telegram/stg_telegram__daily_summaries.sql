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
    summary,
    json_extract_string(summary, '$.tone') as tone,
    json_extract_string(summary, '$.summary') as gist,
    {{ source_ref('telegram_day', 'client_id', 'day') }} as ref,
    generated_by,
    extractive,
    prompt_tokens,
    completion_tokens,
    summarized_at as loaded_at
from source
