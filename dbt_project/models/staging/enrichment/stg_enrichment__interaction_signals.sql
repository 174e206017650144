select ref, client_id, source, occurred_at, content_hash, sentiment, tone, complaint, conflict, blockers, promises,
       facts, leaving_intent, generated_by, extractive, analyzed_at as loaded_at
from {{ source('enrichment', 'interaction_signals') }}
