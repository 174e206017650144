with source as (
    select * from {{ source('bitrix24', 'bitrix_activities') }}
)

select
    client_id,
    activity_id,
    'bitrix:' || activity_id as ref,
    kind,
    direction,
    subject,
    body_text,
    started_at,
    duration_s,
    status,
    pulled_at as loaded_at
from source
