select ref, client_id, source, occurred_at, sentiment, tone, complaint, conflict, blockers, promises, extractive,
       analyzed_at as loaded_at
from {{ source('enrichment', 'interaction_signals') }}
