-- every week in which a strong churn signal is on, as an alert with evidence; `dedupe_key` is stable for one
-- episode (consecutive weeks) at one severity, so a repeated condition alerts once and a worse one again. The
-- client's words about leaving us are on for intent_weeks (churn.yml): one critical episode however often repeated.
{% set c = var('churn') %}
with

fired as (
    select client_id, week, week_end, 'withdrawal' as alert_type,
           case when withdrawal_share_2w >= {{ c['critical_withdrawal_share'] }} then 'critical' else 'high' end
               as severity,
           'Клиент вывозит товар: ' || withdrawal_2w || ' ед. за 2 недели — ' || cast(round(100 * withdrawal_share_2w) as bigint)
               || '% остатка (' || stock_prev_2w || ' → ' || stock_end || ')' as message,
           json_object('withdrawn_units_2w', withdrawal_2w, 'stock_before', stock_prev_2w, 'stock_now', stock_end,
                       'share', round(withdrawal_share_2w, 3)) as figures
    from {{ ref('churn_features') }} where s_withdrawal
    union all
    select client_id, week, week_end, 'reservation_spike', 'high',
           'Всплеск резервов: ' || reserved || ' ед. за неделю — ' || cast(round(100 * reserved_share_1w) as bigint)
               || '% остатка, обычно ' || coalesce(cast(round(reserved_baseline) as bigint), 0) || ' ед.',
           json_object('reserved_units_1w', reserved, 'baseline_units', reserved_baseline, 'stock', stock_prev_1w)
    from {{ ref('churn_features') }} where s_reservation_spike
    union all
    select client_id, week, week_end, 'inbound_stopped', 'high',
           'Поставки прекратились: ' || weeks_since_inbound || ' нед. без приёмки (обычно раз в '
               || round(usual_inbound_gap_weeks, 1) || ' нед.), остаток ' || stock_prev_4w || ' → ' || stock_end,
           json_object('weeks_since_inbound', weeks_since_inbound, 'usual_gap_weeks', usual_inbound_gap_weeks,
                       'stock_4w_ago', stock_prev_4w, 'stock_now', stock_end, 'outbound_ratio', outbound_ratio)
    from {{ ref('churn_features') }} where s_inbound_stopped
    union all
    select client_id, week, week_end, 'intent_to_leave', 'critical',
           'Клиент говорил об уходе: «' || rtrim(intent_quote, '.') || '» (' || intent_source || ' '
               || strftime(intent_said_on, '%d.%m.%Y') || ')',
           -- the contract of the renderers: exactly these keys
           json_object('quote', intent_quote, 'source', intent_source,
                       'occurred_at', strftime(intent_said_on, '%Y-%m-%d'))
    from {{ ref('churn_features') }} where s_intent_to_leave
),

episodes as (  -- gaps-and-islands: consecutive weeks of one alert type and severity form one episode
    select *,
           week - to_weeks(cast(row_number() over (
               partition by client_id, alert_type, severity order by week) as integer)) as episode
    from fired
),

evidence as (  -- the records behind each alert (at most 3): the WMS ones biggest first
    select e.client_id, e.week, e.alert_type,
           list(o.ref order by o.units desc, o.ref)[1:3] as evidence_refs
    from episodes as e
    join (
        select client_id, ref, units, kind, date_trunc('week', {{ local_time('created_at') }}) as week
        from {{ ref('stg_wms__orders') }} where kind = 'withdrawal'
        union all
        select client_id, ref, units, 'reservation', date_trunc('week', {{ local_time('created_at') }})
        from {{ ref('stg_wms__reservations') }}
        union all
        select client_id, ref, units, 'receipt', date_trunc('week', {{ local_time('created_at') }})
        from {{ ref('stg_wms__receipts') }}
    ) as o
      on o.client_id = e.client_id
     and ((e.alert_type = 'withdrawal' and o.kind = 'withdrawal' and o.week between e.week - interval 7 day and e.week)
       or (e.alert_type = 'reservation_spike' and o.kind = 'reservation' and o.week = e.week)
       or (e.alert_type = 'inbound_stopped' and o.kind = 'receipt'))  -- the last supplies before they stopped
    group by 1, 2, 3
    union all  -- the contacts in which the client spoke of leaving, the quoted one first
    select e.client_id, e.week, e.alert_type,
           list(i.ref order by i.occurred_at desc, i.ref desc)[1:3]
    from episodes as e
    join {{ ref('int_leaving_intents') }} as i
      on i.client_id = e.client_id
     and cast(date_trunc('week', i.occurred_at) as date)
         between e.week - interval {{ c['intent_weeks'] - 1 }} week and e.week
    where e.alert_type = 'intent_to_leave'
    group by 1, 2, 3
),

accounts as (  -- the provisional ids a lead's WMS accounts had before they were linked to it
    select client_id, list({{ provisional_client_id('wms_client_id') }} order by wms_client_id) as provisional
    from {{ ref('int_wms_clients') }}
    where lead_id is not null
    group by 1
),

keyed as (
    select e.*, '|' || e.alert_type || '|' || strftime(e.episode, '%Y-%m-%d') || '|' || e.severity as episode_key
    from episodes as e
)

select
    e.client_id || e.episode_key as dedupe_key,
    -- the same episode's key while the client was provisional: already sent under it, it is not sent again
    coalesce([p || e.episode_key for p in a.provisional], []) as earlier_keys,
    e.client_id,
    e.week,
    e.week_end,
    e.alert_type,
    e.severity,
    e.message,
    e.figures,
    coalesce(ev.evidence_refs, []) as evidence_refs
from keyed as e
left join evidence as ev using (client_id, week, alert_type)
left join accounts as a using (client_id)
