select
    cast(note_id as varchar) as note_id,
    client_id,
    author,
    text,
    {{ local_time('created_at') }} as created_at,
    deleted_at is not null as deleted,
    'note:' || note_id as ref,
    pulled_at as loaded_at
from {{ source('notes', 'staff_notes') }}
