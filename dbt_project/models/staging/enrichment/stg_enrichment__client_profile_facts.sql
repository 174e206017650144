select
    client_id,
    kind,
    fact_key,
    value,
    detail,
    origin,
    sources,
    mentions,
    first_seen,
    last_confirmed,
    updated_at as loaded_at
from {{ source('enrichment', 'client_profile_facts') }}
