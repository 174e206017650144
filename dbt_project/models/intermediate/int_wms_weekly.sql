-- per client and week (Monday, local time): warehouse flows (the days of int_wms_daily summed) and the stock at
-- the week's end. The stock is the week's last snapshot where there is one; other weeks are carried from the
-- nearest snapshot through the flows (backwards from the next one, or forwards from the last one), so history
-- pulled without snapshots works too.
-- Incremental (see macros/incremental.sql): a changed flow or snapshot can only move the weeks after the
-- client's previous snapshot, so the rebuild starts there.
{{ config(materialized='incremental', unique_key=['client_id', 'week'], incremental_strategy='delete+insert') }}
with

{% if is_incremental() %}
{% set wm = watermark() %}
{% set cutoff_sql %}
with changed as (  -- per client, the earliest week touched by days int_wms_daily rebuilt since the last build
    select client_id, min(cast(date_trunc('week', day) as date)) as week, max(loaded_at) as stamp
    from {{ ref('int_wms_daily') }}
    where loaded_at > {{ wm }}
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

days as (  -- cutoff: a Monday, so the weeks read are whole
    select *, cast(date_trunc('week', day) as date) as week
    from {{ ref('int_wms_daily') }}
    {% if is_incremental() %}where day >= {{ cutoff }}{% endif %}
),

wms_weeks as (
    select client_id, week,
           sum(outbound_units) as outbound,
           sum(outbound_fbs_units) as outbound_fbs,
           sum(withdrawal_units) as withdrawal,
           sum(inbound_units) as inbound,
           sum(reserved_units) as reserved,
           arg_max(stock_units, day) filter (where has_snapshot) as snapshot_stock,  -- the week's last snapshot
           max(loaded_at) as loaded_at
    from days
    group by 1, 2
),

bounds as (
    select client_id, min(week) as first_week, max(week) as last_week
    from wms_weeks
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
        coalesce(d.outbound, 0) as outbound,
        coalesce(d.outbound_fbs, 0) as outbound_fbs,
        coalesce(d.withdrawal, 0) as withdrawal,
        coalesce(d.inbound, 0) as inbound,
        coalesce(d.reserved, 0) as reserved,
        d.snapshot_stock,
        -- net outflow so far: the stock between two weeks changes by the difference of this
        sum(coalesce(d.outbound, 0) + coalesce(d.withdrawal, 0) - coalesce(d.inbound, 0)) over (
            partition by w.client_id order by w.week rows between unbounded preceding and current row) as net_out,
        d.loaded_at
    from weeks as w
    left join wms_weeks as d on d.client_id = w.client_id and d.week = w.week
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
