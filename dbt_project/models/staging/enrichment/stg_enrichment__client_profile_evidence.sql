select
    ref,
    content_hash,
    processed_at,
    processed_at as loaded_at
from {{ source('enrichment', 'client_profile_evidence') }}
