select
    system,
    external_id,
    lead_id,
    kind,
    confidence,
    evidence,
    status,
    updated_at as loaded_at
from {{ source('identity', 'identity_candidates') }}
