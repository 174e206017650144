with source as (
    select * from {{ source('bitrix24', 'bitrix_activities') }}
)

select
    client_id,
    activity_id,
    {{ source_ref('bitrix', 'activity_id') }} as ref,
    owner_type,
    owner_id,
    kind,
    type_id,
    provider_id,
    direction,
    subject,
    body_text,
    email_from,
    email_to,
    recording_url,
    recording_file_id,
    started_at,
    ended_at,
    duration_s,
    responsible_id,
    completed,
    last_updated,
    status,
    raw,
    pulled_at as loaded_at
from source
