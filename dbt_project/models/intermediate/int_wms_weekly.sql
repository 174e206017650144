-- per client and week (Monday, local time): warehouse flows and the stock at the week's end, reconstructed
-- backwards from the latest snapshot through the flows (works for any WMS, with or without stock history)
with

orders as (
    select client_id, date_trunc('week', {{ local_time('created_at') }}) as week,
           sum(units) filter (where kind in ('marketplace', 'fbs')) as outbound,
           sum(units) filter (where kind = 'withdrawal') as withdrawal
    from {{ ref('stg_wms__orders') }}
    where client_id is not null and record_status = 'ok'
    group by 1, 2
),

receipts as (
    select client_id, date_trunc('week', {{ local_time('created_at') }}) as week, sum(units) as inbound
    from {{ ref('stg_wms__receipts') }}
    where client_id is not null and record_status = 'ok'
    group by 1, 2
),

reservations as (
    select client_id, date_trunc('week', {{ local_time('created_at') }}) as week, sum(units) as reserved
    from {{ ref('stg_wms__reservations') }}
    where client_id is not null and record_status = 'ok'
    group by 1, 2
),

last_snapshot as (
    select client_id, max(snapshot_date) as snapshot_date
    from {{ ref('stg_wms__stock') }}
    where client_id is not null
    group by 1
),

latest_stock as (
    select s.client_id, sum(s.on_hand) as stock_now
    from {{ ref('stg_wms__stock') }} as s
    join last_snapshot as l using (client_id, snapshot_date)
    group by 1
),

bounds as (
    select client_id, min(week) as first_week, max(week) as last_week
    from (
        select client_id, week from orders
        union all select client_id, week from receipts
        union all select client_id, week from reservations
    )
    group by 1
),

weeks as (
    select client_id, cast(unnest(generate_series(first_week, last_week, interval 7 day)) as date) as week
    from bounds
),

flows as (
    select
        w.client_id,
        w.week,
        coalesce(o.outbound, 0) as outbound,
        coalesce(o.withdrawal, 0) as withdrawal,
        coalesce(r.inbound, 0) as inbound,
        coalesce(s.reserved, 0) as reserved
    from weeks as w
    left join orders as o on o.client_id = w.client_id and o.week = w.week
    left join receipts as r on r.client_id = w.client_id and r.week = w.week
    left join reservations as s on s.client_id = w.client_id and s.week = w.week
)

select
    f.*,
    -- stock at the end of the week = now + what left afterwards − what arrived afterwards
    l.stock_now
        + coalesce(sum(f.outbound + f.withdrawal - f.inbound) over (
            partition by f.client_id order by f.week rows between 1 following and unbounded following), 0)
        as stock_end
from flows as f
left join latest_stock as l using (client_id)
