-- the client dimension: Bitrix24 lead master data, curator, tenure, marketplaces seen in the WMS, linked ids
with

leads as (
    select * from {{ ref('stg_bitrix24__leads') }}
),

known as (  -- clients seen anywhere, even before their lead was pulled
    select distinct client_id from {{ ref('fct_client_timeline') }}
    union
    select distinct client_id from {{ ref('fct_client_daily_activity') }}
    union
    select distinct client_id from {{ ref('stg_enrichment__client_profile_facts') }}
    union
    select client_id from leads
),

marketplaces as (  -- from the profile: seen in the WMS or said by the client
    select client_id, string_agg(distinct value, ', ' order by value) as marketplaces
    from {{ ref('stg_enrichment__client_profile_facts') }}
    where kind = 'marketplaces'
    group by client_id
),

chats as (
    select client_id, count(*) as telegram_chats
    from {{ ref('stg_telegram__chats') }}
    where client_id is not null
    group by client_id
),

wms as (
    select client_id, string_agg(wms_client_id, ', ' order by wms_client_id) as wms_client_ids,
           string_agg(name, ', ' order by wms_client_id) as wms_names,
           bool_or(lead_id is not null) as linked
    from {{ ref('int_wms_clients') }}
    group by client_id
)

select
    k.client_id,
    -- a WMS account linked to no lead is a client under its own name (its provisional id wms-<id>)
    coalesce(l.title, w.wms_names) as title,
    l.client_id is not null as is_lead,
    l.contact_name,
    l.status_id,
    l.curator_id,
    l.curator_name,
    l.created_at as client_since,
    date_diff('day', l.created_at, {{ today() }}) as tenure_days,
    m.marketplaces,
    coalesce(c.telegram_chats, 0) as telegram_chats,
    w.wms_client_ids,
    l.phones,
    l.emails,
    l.messengers,
    l.uf
from known as k
left join leads as l using (client_id)
left join marketplaces as m using (client_id)
left join chats as c using (client_id)
left join wms as w using (client_id)
