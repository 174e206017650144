-- per client and local day: what happened (communication counts and warehouse flows)
with

messages as (
    select client_id, cast({{ local_time('sent_at') }} as date) as day,
           count(*) filter (where direction = 'client') as messages_in,
           count(*) filter (where direction = 'staff') as messages_out
    from {{ ref('stg_telegram__messages') }}
    where client_id is not null and kind = 'message'
    group by 1, 2
),

meetings as (
    select client_id, cast(started_at as date) as day, count(*) as meetings
    from {{ ref('stg_meetings__summaries') }}
    group by 1, 2
),

activities as (
    select client_id, cast({{ local_time('started_at') }} as date) as day,
           count(*) filter (where kind = 'call') as calls,
           count(*) filter (where kind = 'email') as emails
    from {{ ref('stg_bitrix24__activities') }}
    where client_id is not null and started_at is not null
    group by 1, 2
),

orders as (
    select client_id, cast({{ local_time('created_at') }} as date) as day,
           sum(units) filter (where kind in ('marketplace', 'fbs')) as outbound_units,
           sum(units) filter (where kind = 'withdrawal') as withdrawal_units
    from {{ ref('stg_wms__orders') }}
    where client_id is not null and record_status = 'ok'
    group by 1, 2
),

receipts as (
    select client_id, cast({{ local_time('created_at') }} as date) as day, sum(units) as inbound_units
    from {{ ref('stg_wms__receipts') }}
    where client_id is not null and record_status = 'ok'
    group by 1, 2
),

reservations as (
    select client_id, cast({{ local_time('created_at') }} as date) as day, sum(units) as reserved_units
    from {{ ref('stg_wms__reservations') }}
    where client_id is not null and record_status = 'ok'
    group by 1, 2
),

stock as (
    select client_id, snapshot_date as day, sum(on_hand) as stock_units
    from {{ ref('stg_wms__stock') }}
    where client_id is not null
    group by 1, 2
),

days as (
    select client_id, day from messages
    union select client_id, day from meetings
    union select client_id, day from activities
    union select client_id, day from orders
    union select client_id, day from receipts
    union select client_id, day from reservations
    union select client_id, day from stock
)

select
    d.client_id,
    d.day,
    coalesce(messages_in, 0) as messages_in,
    coalesce(messages_out, 0) as messages_out,
    coalesce(meetings, 0) as meetings,
    coalesce(calls, 0) as calls,
    coalesce(emails, 0) as emails,
    coalesce(outbound_units, 0) as outbound_units,
    coalesce(inbound_units, 0) as inbound_units,
    coalesce(withdrawal_units, 0) as withdrawal_units,
    coalesce(reserved_units, 0) as reserved_units,
    stock_units
from days as d
left join messages using (client_id, day)
left join meetings using (client_id, day)
left join activities using (client_id, day)
left join orders using (client_id, day)
left join receipts using (client_id, day)
left join reservations using (client_id, day)
left join stock using (client_id, day)
