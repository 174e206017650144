-- one row per client event, newest last; `ref` points at the original (meeting, chat day, activity, WMS week)
select
    md5(source || '|' || ref) as event_id,
    client_id,
    occurred_at,
    cast(occurred_at as date) as event_date,
    source,
    kind,
    title,
    summary,
    cast(null as double) as sentiment,  -- filled by interaction_signals (LLM enrichment)
    ref
from {{ ref('int_client_events') }}
where client_id is not null
