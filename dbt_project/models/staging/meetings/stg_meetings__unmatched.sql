select
    path,
    room,
    reason,
    size_bytes,
    first_seen_at,
    last_seen_at,
    last_seen_at as loaded_at
from {{ source('meetings', 'meeting_unmatched') }}
