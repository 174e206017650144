with source as (
    select * from {{ source('bitrix24', 'bitrix_activity_summaries') }}
)

select
    summary_key,
    day,
    client_id,
    kind,
    title,
    summary_text,
    summary,
    json_extract_string(summary, '$.topic') as topic,
    activity_ids,
    generated_by,
    extractive,
    summarized_at as loaded_at
from source
