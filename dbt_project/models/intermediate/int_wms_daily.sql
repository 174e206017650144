-- per client and local day: warehouse flows (shipped in total and of it FBS, withdrawn, received, reserved) and the
-- stock snapshot; the one place WMS records are counted (fct_client_daily_activity and int_wms_weekly read it).
-- Incremental (see macros/incremental.sql): days from the earliest one touched by newly loaded records are rebuilt,
-- each rebuilt row stamped with the batch's load stamp, so the models downstream see every rebuilt day.
{{ config(materialized='incremental', unique_key=['client_id', 'day'], incremental_strategy='delete+insert') }}
with

{% if is_incremental() %}
{% set wm = watermark() %}
{% set cutoff_sql %}  -- the earliest local day touched by rows loaded since the last build
    select min(day) as day, max(loaded_at) as stamp from (
        select cast({{ local_time('created_at') }} as date) as day, loaded_at
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

orders as (
    select client_id, cast({{ local_time('created_at') }} as date) as day,
           sum(units) filter (where kind in ('marketplace', 'fbs')) as outbound_units,
           sum(units) filter (where kind = 'fbs') as outbound_fbs_units,
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

stock as (  -- the day's snapshot, summed over SKUs
    select client_id, snapshot_date as day, sum(on_hand) as stock_units, true as has_snapshot,
           max(loaded_at) as loaded_at
    from {{ ref('stg_wms__stock') }}
    where client_id is not null {{ from_cutoff('snapshot_date', cutoff) }}
    group by 1, 2
),

days as (
    select client_id, day from orders
    union select client_id, day from receipts
    union select client_id, day from reservations
    union select client_id, day from stock
)

select
    d.client_id,
    d.day,
    o.outbound_units,
    o.outbound_fbs_units,
    o.withdrawal_units,
    r.inbound_units,
    rs.reserved_units,
    s.stock_units,
    coalesce(s.has_snapshot, false) as has_snapshot,
    {{ batch_loaded_at('greatest(o.loaded_at, r.loaded_at, rs.loaded_at, s.loaded_at)', stamp) }} as loaded_at
from days as d
left join orders as o using (client_id, day)
left join receipts as r using (client_id, day)
left join reservations as rs using (client_id, day)
left join stock as s using (client_id, day)
{% if is_incremental() %}where d.day >= {{ cutoff }}{% endif %}
