select
    cast(note_id as varchar) as note_id,
    client_id,
    author,
    text,
    {{ local_time('created_at') }} as created_at,
    {{ local_time('updated_at') }} as updated_at,
    {{ local_time('deleted_at') }} as deleted_at,
    deleted_at is not null as deleted,
    {{ source_ref('note', 'note_id') }} as ref,
    pulled_at as loaded_at
from {{ source('notes', 'staff_notes') }}
