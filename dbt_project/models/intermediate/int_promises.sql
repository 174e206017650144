-- promises our side made in a meeting, chat, call or e-mail (from interaction_signals), each with its deadline
-- and whether we got back to the client before it: no message, call, e-mail or meeting from our side between the
-- promise and its deadline = unkept
{% set c = var('churn') %}
{{ config(materialized='table') }}
with

promises as (
    select
        s.ref,
        s.client_id,
        s.source,
        cast(s.occurred_at as date) as promised_on,
        p.what,
        p.due as due_text,
        coalesce(try_cast(p.due as date), cast(s.occurred_at as date) + {{ c['promise_default_days'] }})
            + {{ c['promise_grace_days'] }} as deadline,
        s.loaded_at
    from {{ ref('stg_enrichment__interaction_signals') }} as s,
         unnest(from_json(s.promises, '[{"what": "VARCHAR", "due": "VARCHAR"}]')) as t(p)
    where s.client_id is not null and s.promises is not null and cast(s.promises as varchar) not in ('[]', 'null')
),

touch_days as (  -- local days our side was in touch with the client: wrote, met, called or e-mailed
    select client_id, cast({{ local_time('sent_at') }} as date) as day
    from {{ ref('stg_telegram__messages') }}
    where client_id is not null and kind = 'message' and direction = 'staff'
    union
    select client_id, cast(started_at as date) from {{ ref('stg_meetings__summaries') }}
    union
    select client_id, cast({{ local_time('started_at') }} as date)
    from {{ ref('stg_bitrix24__activities') }}
    where client_id is not null and started_at is not null and kind in ('call', 'email') and direction = 'outgoing'
),

latest as (  -- the newest local day with any data: a contact or a warehouse record
    select greatest(
        (select max(cast({{ local_time('sent_at') }} as date)) from {{ ref('stg_telegram__messages') }}
         where client_id is not null and kind = 'message'),
        (select max(cast(started_at as date)) from {{ ref('stg_meetings__summaries') }}),
        (select max(cast({{ local_time('started_at') }} as date)) from {{ ref('stg_bitrix24__activities') }}
         where client_id is not null and started_at is not null),
        (select max(day) from {{ ref('int_wms_daily') }})
    ) as day
),

followed_up as (  -- each day from the promise to its deadline, matched to the days we were in touch
    select distinct p.ref, p.what
    from (
        select ref, what, client_id, unnest(generate_series(promised_on + 1, deadline, interval 1 day)) as day
        from promises
    ) as p
    join touch_days as t on t.client_id = p.client_id and t.day = cast(p.day as date)
)

select
    p.*,
    p.deadline <= (select day from latest) as due_passed,
    f.ref is null as no_follow_up
from promises as p
left join followed_up as f using (ref, what)
