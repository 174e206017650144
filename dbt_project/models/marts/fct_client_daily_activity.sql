-- per client and local day: what happened (communication counts, and warehouse flows from int_wms_daily);
-- incremental (see macros)
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
        select day, loaded_at from {{ ref('int_wms_daily') }} where loaded_at > {{ wm }}
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

wms as (
    select * from {{ ref('int_wms_daily') }}
    where true {% if is_incremental() %}and day >= {{ cutoff }}{% endif %}
),

days as (
    select client_id, day from messages
    union select client_id, day from meetings
    union select client_id, day from activities
    union select client_id, day from wms
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
    coalesce(w.outbound_units, 0) as outbound_units,
    coalesce(w.inbound_units, 0) as inbound_units,
    coalesce(w.withdrawal_units, 0) as withdrawal_units,
    coalesce(w.reserved_units, 0) as reserved_units,
    w.stock_units,
    {{ batch_loaded_at('greatest(m.loaded_at, mt.loaded_at, a.loaded_at, w.loaded_at)', stamp) }} as loaded_at
from days as d
left join messages as m using (client_id, day)
left join meetings as mt using (client_id, day)
left join activities as a using (client_id, day)
left join wms as w using (client_id, day)
{% if is_incremental() %}where d.day >= {{ cutoff }}{% endif %}
