-- one row per client event, newest last; `ref` points at the original (meeting, chat day, activity, WMS week).
-- Incremental: events loaded since the last build, and events whose interaction signals changed, are rewritten.
{{ config(
    materialized='incremental', unique_key='event_id', incremental_strategy='delete+insert',
    post_hook="delete from {{ this }} where ref in (select ref from {{ ref('stg_notes__notes') }} where deleted)"
) }}
with

events as (
    select * from {{ ref('int_client_events') }}
    where client_id is not null
    {% if is_incremental() %}
      and (loaded_at > {{ watermark() }}
           or ref in (select ref from {{ ref('stg_enrichment__interaction_signals') }}
                      where loaded_at > {{ watermark() }}))
    {% endif %}
)

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
    -- a chat day's summary states its own tone («Тон: …»); the signal re-read from that summary's text may differ,
    -- and the history must not contradict the summary it shows
    coalesce(d.tone, s.tone) as tone,
    s.complaint,
    e.ref,
    greatest(e.loaded_at, s.loaded_at) as loaded_at
from events as e
left join {{ ref('stg_enrichment__interaction_signals') }} as s using (ref)
left join {{ ref('stg_telegram__daily_summaries') }} as d using (ref)
