-- per client and week (Monday, local time): warehouse flows and the stock at the week's end. The stock is the
-- week's last snapshot where there is one; other weeks are carried from the nearest snapshot through the flows
-- (backwards from the next one, or forwards from the last one), so history pulled without snapshots works too.
-- Incremental (see macros/incremental.sql): a changed flow or snapshot can only move the weeks after the
-- client's previous snapshot, so the rebuild starts there.
{{ config(materialized='incremental', unique_key=['client_id', 'week'], incremental_strategy='delete+insert') }}
with

{% if is_incremental() %}
{% set wm = watermark() %}
{% set cutoff_sql %}
with changed as (
    select client_id, min(week) as week, max(loaded_at) as stamp from (
        select client_id, cast(date_trunc('week', {{ local_time('created_at') }}) as date) as week, loaded_at
        from {{ ref('stg_wms__orders') }} where loaded_at > {{ wm }}
        union all
        select client_id, cast(date_trunc('week', {{ local_time('created_at') }}) as date), loaded_at
        from {{ ref('stg_wms__receipts') }} where loaded_at > {{ wm }}
        union all
        select client_id, cast(date_trunc('week', {{ local_time('created_at') }}) as date), loaded_at
        from {{ ref('stg_wms__reservations') }} where loaded_at > {{ wm }}
        union all
        select client_id, cast(date_trunc('week', snapshot_date) as date), loaded_at
        from {{ ref('stg_wms__stock') }} where loaded_at > {{ wm }}
    )
    where client_id is not null
    group by 1
),
-- the week after the client's last snapshot before its earliest change (no snapshot: from the start)
per_client as (
    select coalesce(
        (select max(s.week) from {{ this }} as s where s.client_id = c.client_id and s.week < c.week
            and s.has_snapshot) + 7,
        date '1900-01-01') as day, c.stamp
    from changed as c
)
select min(day), max(stamp) from per_client
{% endset %}
{% set row = first_row(cutoff_sql, 2) %}
{% set cutoff, stamp = date_literal(row[0]), ts_literal(row[1]) %}

earlier as (  -- what the kept part of the table says just before the rebuilt weeks
    select client_id, arg_max(stock_end, week) as stock_end
    from {{ this }}
    where week < {{ cutoff }}
    group by 1
),
{% endif %}

orders as (
    select client_id, date_trunc('week', {{ local_time('created_at') }}) as week,
           sum(units) filter (where kind in ('marketplace', 'fbs')) as outbound,
           sum(units) filter (where kind = 'fbs') as outbound_fbs,
           sum(units) filter (where kind = 'withdrawal') as withdrawal,
           max(loaded_at) as loaded_at
    from {{ ref('stg_wms__orders') }}
    where client_id is not null and record_status = 'ok' {{ from_cutoff('created_at', cutoff) }}
    group by 1, 2
),

receipts as (
    select client_id, date_trunc('week', {{ local_time('created_at') }}) as week, sum(units) as inbound,
           max(loaded_at) as loaded_at
    from {{ ref('stg_wms__receipts') }}
    where client_id is not null and record_status = 'ok' {{ from_cutoff('created_at', cutoff) }}
    group by 1, 2
),

reservations as (
    select client_id, date_trunc('week', {{ local_time('created_at') }}) as week, sum(units) as reserved,
           max(loaded_at) as loaded_at
    from {{ ref('stg_wms__reservations') }}
    where client_id is not null and record_status = 'ok' {{ from_cutoff('created_at', cutoff) }}
    group by 1, 2
),

snapshots as (
    select client_id, snapshot_date, cast(date_trunc('week', snapshot_date) as date) as week,
           sum(on_hand) as stock, max(loaded_at) as loaded_at
    from {{ ref('stg_wms__stock') }}
    where client_id is not null {{ from_cutoff('snapshot_date', cutoff, slack='interval 0 day') }}
    group by 1, 2, 3
),

week_stock as (  -- the last snapshot of each week
    select client_id, week, arg_max(stock, snapshot_date) as snapshot_stock, max(loaded_at) as loaded_at
    from snapshots
    group by 1, 2
),

bounds as (
    select client_id, min(week) as first_week, max(week) as last_week
    from (
        select client_id, week from orders
        union all select client_id, week from receipts
        union all select client_id, week from reservations
        union all select client_id, week from week_stock
    )
    {% if is_incremental() %}where week >= {{ cutoff }}{% endif %}
    group by 1
),

weeks as (
    select
        b.client_id,
        cast(unnest(generate_series(
            {% if is_incremental() %}
            case when e.client_id is not null then {{ cutoff }} else b.first_week end,
            {% else %}
            b.first_week,
            {% endif %}
            b.last_week, interval 7 day)) as date) as week
    from bounds as b
    {% if is_incremental() %}left join earlier as e using (client_id){% endif %}
),

flows as (
    select
        w.client_id,
        w.week,
        coalesce(o.outbound, 0) as outbound,
        coalesce(o.outbound_fbs, 0) as outbound_fbs,
        coalesce(o.withdrawal, 0) as withdrawal,
        coalesce(r.inbound, 0) as inbound,
        coalesce(s.reserved, 0) as reserved,
        ws.snapshot_stock,
        -- net outflow so far: the stock between two weeks changes by the difference of this
        sum(coalesce(o.outbound, 0) + coalesce(o.withdrawal, 0) - coalesce(r.inbound, 0)) over (
            partition by w.client_id order by w.week rows between unbounded preceding and current row) as net_out,
        greatest(o.loaded_at, r.loaded_at, s.loaded_at, ws.loaded_at) as loaded_at
    from weeks as w
    left join orders as o on o.client_id = w.client_id and o.week = w.week
    left join receipts as r on r.client_id = w.client_id and r.week = w.week
    left join reservations as s on s.client_id = w.client_id and s.week = w.week
    left join week_stock as ws on ws.client_id = w.client_id and ws.week = w.week
)

select
    f.client_id,
    f.week,
    f.outbound,
    f.outbound_fbs,
    f.withdrawal,
    f.inbound,
    f.reserved,
    f.snapshot_stock is not null as has_snapshot,
    coalesce(
        f.snapshot_stock,
        first_value(f.snapshot_stock + f.net_out ignore nulls) over (
            partition by f.client_id order by f.week rows between current row and unbounded following) - f.net_out,
        last_value(f.snapshot_stock + f.net_out ignore nulls) over (
            partition by f.client_id order by f.week rows between unbounded preceding and current row) - f.net_out
        {% if is_incremental() %}, e.stock_end - f.net_out{% endif %}
    ) as stock_end,
    {{ batch_loaded_at('f.loaded_at', stamp) }} as loaded_at
from flows as f
{% if is_incremental() %}left join earlier as e using (client_id){% endif %}
