-- every touchpoint with a client as one event grain; times are local (the team's timezone). `body`: the text an
-- event's interaction signals are read from (null where there is none to analyse)
with

meetings as (
    select
        s.client_id,
        s.started_at as occurred_at,
        'meetings' as source,
        'встреча' as kind,
        coalesce(json_extract_string(s.summary, '$.topic'), s.room) as title,
        s.summary_text as summary,
        coalesce(t.text, s.summary_text) as body,
        s.ref,
        s.loaded_at
    from {{ ref('stg_meetings__summaries') }} as s
    left join {{ ref('stg_meetings__transcripts') }} as t using (recording_id)
),

chat_days as (
    select
        client_id,
        cast(day as timestamp) + interval 23 hour + interval 59 minute as occurred_at,
        'telegram' as source,
        'переписка за день' as kind,
        'Telegram: ' || messages || ' сообщ.' as title,
        summary_text as summary,
        summary_text as body,
        ref,
        loaded_at
    from {{ ref('stg_telegram__daily_summaries') }}
),

activities as (
    select
        a.client_id,
        {{ local_time('a.started_at') }} as occurred_at,
        'bitrix' as source,
        case a.kind when 'call' then 'звонок' when 'email' then 'письмо' else 'дело в CRM' end as kind,
        coalesce(a.subject, a.kind) as title,
        coalesce(s.summary_text, a.body_text) as summary,
        case when a.kind in ('call', 'email') then coalesce(t.text, a.body_text, a.subject) end as body,
        a.ref,
        greatest(a.loaded_at, s.loaded_at) as loaded_at
    from {{ ref('stg_bitrix24__activities') }} as a
    left join (  -- a call rescheduled in Bitrix24 after it was summarised has a summary per day: the latest counts
        select * from {{ ref('stg_bitrix24__activity_summaries') }}
        where kind = 'call'
        qualify row_number() over (partition by summary_key order by loaded_at desc, day desc) = 1
    ) as s
        on s.summary_key = {{ source_ref('call', 'a.activity_id') }}
    left join {{ ref('stg_bitrix24__call_transcripts') }} as t on t.activity_id = a.activity_id
    where a.client_id is not null and a.started_at is not null
),

wms_weeks as (
    select
        client_id,
        week + interval 6 day + interval 23 hour as occurred_at,
        'wms' as source,
        'склад за неделю' as kind,
        'Склад: отгружено ' || outbound || ', вывезено ' || withdrawal || ', принято ' || inbound
            || ', остаток ' || coalesce(cast(stock_end as varchar), '?') as title,
        null as summary,
        null as body,
        {{ source_ref('wms_week', 'client_id', "strftime(week, '%Y-%m-%d')") }} as ref,
        loaded_at
    from {{ ref('int_wms_weekly') }}
    where outbound + withdrawal + inbound + reserved > 0
),

notes as (
    select
        client_id,
        created_at as occurred_at,
        'notes' as source,
        'заметка' as kind,
        'Заметка: ' || author as title,
        text as summary,
        null as body,
        ref,
        loaded_at
    from {{ ref('stg_notes__notes') }}
    where not deleted
)

select * from meetings
union all select * from chat_days
union all select * from notes
union all select * from activities
union all select * from wms_weeks
