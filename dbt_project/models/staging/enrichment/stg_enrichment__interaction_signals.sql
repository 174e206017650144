select ref, client_id, source, occurred_at, sentiment, tone, complaint, conflict, blockers, promises, extractive
from {{ source('enrichment', 'interaction_signals') }}
