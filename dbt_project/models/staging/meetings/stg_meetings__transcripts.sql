select
    recording_id,
    client_id,
    provider,
    language,
    text,
    segments,
    segment_count,
    duration_s,
    transcribed_at,
    transcribed_at as loaded_at
from {{ source('meetings', 'meeting_transcripts') }}
