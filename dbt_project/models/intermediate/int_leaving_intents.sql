-- the client's own words about leaving us (interaction_signals.leaving_intent: another fulfilment, a move, a
-- competitor's trial, the end of the contract): one row per meeting, chat day, call or e-mail that has them, with
-- its first sentence as the quote, the source's Russian label and the event's local time and reference
with

signals as (
    select *, from_json(leaving_intent, '["VARCHAR"]') as quotes
    from {{ ref('stg_enrichment__interaction_signals') }}
    where client_id is not null and coalesce(json_array_length(leaving_intent), 0) > 0
)

select
    ref,
    client_id,
    source,
    case source when 'meetings' then 'встреча' when 'telegram' then 'Telegram' when 'bitrix_call' then 'звонок'
                when 'bitrix_email' then 'письмо' else 'контакт' end as source_label,
    occurred_at,
    quotes[1] as quote,
    quotes,
    loaded_at
from signals
