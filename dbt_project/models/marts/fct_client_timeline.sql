-- one row per client event, newest last; `ref` points at the original (meeting, chat day, activity, WMS week)
select
    md5(e.source || '|' || e.ref) as event_id,
    e.client_id,
    e.occurred_at,
    cast(e.occurred_at as date) as event_date,
    e.source,
    e.kind,
    e.title,
    e.summary,
    s.sentiment,
    s.tone,
    s.complaint,
    e.ref
from {{ ref('int_client_events') }} as e
left join {{ ref('stg_enrichment__interaction_signals') }} as s using (ref)
where e.client_id is not null
