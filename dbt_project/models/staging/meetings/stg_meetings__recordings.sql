select
    ---------- ids
    recording_id,
    client_id,
    {{ source_ref('meeting', 'recording_id') }} as ref,
    ---------- attributes
    room,
    kind,
    media_path,
    session_dir,
    meeting_url,
    participants,
    extra_metadata,
    size_bytes,
    mtime,
    ---------- timestamps (started_at: local time)
    started_at,
    meeting_date,
    registered_at,
    registered_at as loaded_at
from {{ source('meetings', 'meeting_recordings') }}
