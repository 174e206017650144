-- per client and local day: what happened (communication counts and warehouse flows); incremental (see macros)
{{ config(materialized='incremental', unique_key=['client_id', 'day'], incremental_strategy='delete+insert') }}
with

{% if is_incremental() %}
{% set wm = watermark() %}
{% set cutoff_sql %}  -- the earliest local day touched by rows loaded since the last build
    select min(day) as day, max(loaded_at) as stamp from (
        select cast({{ local_time('sent_at') }} as date) as day, loaded_at
        from {{ ref('stg_telegram__messages') }} where loaded_at > {{ wm }}
        union all
        select cast(started_at as date), loaded_at from {{ ref('stg_meetings__summaries') }} where loaded_at > {{ wm }}
        union all
        select cast({{ local_time('started_at') }} as date), loaded_at
        from {{ ref('stg_bitrix24__activities') }} where loaded_at > {{ wm }}
        union all
        select cast({{ local_time('created_at') }} as date), loaded_at
        from {{ ref('stg_wms__orders') }} where loaded_at > {{ wm }}
        union all
        select cast({{ local_time('created_at') }} as date), loaded_at
        from {{ ref('stg_wms__receipts') }} where loaded_at > {{ wm }}
        union all
        select cast({{ local_time('created_at') }} as date), loaded_at
        from {{ ref('stg_wms__reservations') }} where loaded_at > {{ wm }}
        union all
        select snapshot_date, loaded_at from {{ ref('stg_wms__stock') }} where loaded_at > {{ wm }}
    )
{% endset %}
{% set row = first_row(cutoff_sql, 2) %}
{% set cutoff, stamp = date_literal(row[0]), ts_literal(row[1]) %}
{% endif %}

messages as (
    select client_id, cast({{ local_time('sent_at') }} as date) as day,
           count(*) filter (where direction = 'client') as messages_in,
           count(*) filter (where direction = 'staff') as messages_out,
           max(loaded_at) as loaded_at
    from {{ ref('stg_telegram__messages') }}
    where client_id is not null and kind = 'message' {{ from_cutoff('sent_at', cutoff) }}
    group by 1, 2
),

meetings as (
    select client_id, cast(started_at as date) as day, count(*) as meetings, max(loaded_at) as loaded_at
    from {{ ref('stg_meetings__summaries') }}
    where true {{ from_cutoff('started_at', cutoff) }}
    group by 1, 2
),

activities as (
    select client_id, cast({{ local_time('started_at') }} as date) as day,
           count(*) filter (where kind = 'call') as calls,
           count(*) filter (where kind = 'email') as emails,
           count(*) filter (where kind in ('call', 'email') and direction = 'outgoing') as activities_out,
           max(loaded_at) as loaded_at
    from {{ ref('stg_bitrix24__activities') }}
    where client_id is not null and started_at is not null {{ from_cutoff('started_at', cutoff) }}
    group by 1, 2
),

orders as (
    select client_id, cast({{ local_time('created_at') }} as date) as day,
           sum(units) filter (where kind in ('marketplace', 'fbs')) as outbound_units,
           sum(units) filter (where kind = 'withdrawal') as withdrawal_units,
           max(loaded_at) as loaded_at
    from {{ ref('stg_wms__orders') }}
    where client_id is not null and record_status = 'ok' {{ from_cutoff('created_at', cutoff) }}
    group by 1, 2
),

receipts as (
    select client_id, cast({{ local_time('created_at') }} as date) as day, sum(units) as inbound_units,
           max(loaded_at) as loaded_at
    from {{ ref('stg_wms__receipts') }}
    where client_id is not null and record_status = 'ok' {{ from_cutoff('created_at', cutoff) }}
    group by 1, 2
),

reservations as (
    select client_id, cast({{ local_time('created_at') }} as date) as day, sum(units) as reserved_units,
           max(loaded_at) as loaded_at
    from {{ ref('stg_wms__reservations') }}
    where client_id is not null and record_status = 'ok' {{ from_cutoff('created_at', cutoff) }}
    group by 1, 2
),

stock as (
    select client_id, snapshot_date as day, sum(on_hand) as stock_units, max(loaded_at) as loaded_at
    from {{ ref('stg_wms__stock') }}
    where client_id is not null {{ from_cutoff('snapshot_date', cutoff) }}
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
    coalesce(m.messages_in, 0) as messages_in,
    coalesce(m.messages_out, 0) as messages_out,
    coalesce(mt.meetings, 0) as meetings,
    coalesce(a.calls, 0) as calls,
    coalesce(a.emails, 0) as emails,
    coalesce(a.activities_out, 0) as activities_out,
    coalesce(o.outbound_units, 0) as outbound_units,
    coalesce(r.inbound_units, 0) as inbound_units,
    coalesce(o.withdrawal_units, 0) as withdrawal_units,
    coalesce(rs.reserved_units, 0) as reserved_units,
    s.stock_units,
    {{ batch_loaded_at('greatest(m.loaded_at, mt.loaded_at, a.loaded_at, o.loaded_at, r.loaded_at, rs.loaded_at, s.loaded_at)', stamp) }}
        as loaded_at
from days as d
left join messages as m using (client_id, day)
left join meetings as mt using (client_id, day)
left join activities as a using (client_id, day)
left join orders as o using (client_id, day)
left join receipts as r using (client_id, day)
left join reservations as rs using (client_id, day)
left join stock as s using (client_id, day)
{% if is_incremental() %}where d.day >= {{ cutoff }}{% endif %}
