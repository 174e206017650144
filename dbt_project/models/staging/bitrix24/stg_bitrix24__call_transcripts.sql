select
    activity_id,
    status,
    reason,
    attempts,
    provider,
    transcript_source,
    text,
    segments,
    transcribed_at,
    transcribed_at as loaded_at
from {{ source('bitrix24', 'bitrix_call_transcripts') }}
