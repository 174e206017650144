-- every week in which a strong churn signal is on, as an alert with evidence; `dedupe_key` is stable for one
-- episode (consecutive weeks) at one severity, so a repeated condition alerts once and a worse one again. The
-- client's words about leaving us are on for intent_weeks (churn.yml): one critical episode however often repeated.
{% set c = var('churn') %}
with

fired as (  -- `message`: the figures as a Russian sentence (the type is `alert_label`, said apart)
    select client_id, week, week_end, null::date as spike_week, 'withdrawal' as alert_type,
           case when withdrawal_share_2w >= {{ c['critical_withdrawal_share'] }} then 'critical' else 'high' end
               as severity,
           'за 2 недели вывезено ' || {{ ru_int('withdrawal_2w') }} || ' ед. — ' || {{ ru_int('100 * withdrawal_share_2w') }}
               || ' % остатка (было ' || {{ ru_int('stock_prev_2w') }} || ' ед., осталось ' || {{ ru_int('stock_end') }}
               || ')' as message,
           json_object('withdrawn_units_2w', withdrawal_2w, 'stock_before', stock_prev_2w, 'stock_now', stock_end,
                       'share', round(withdrawal_share_2w, 3)) as figures
    from {{ ref('churn_features') }} where s_withdrawal
    union all
    select client_id, week, week_end, spike_week, 'reservation_spike', 'high',
           'за неделю с ' || strftime(spike_week, '%d.%m.%Y') || ' зарезервировано ' || {{ ru_int('spike_reserved') }}
               || ' ед. — ' || {{ ru_int('100 * spike_reserved_share') }} || ' % остатка; обычно около '
               || {{ ru_int('coalesce(spike_reserved_baseline, 0)') }} || ' ед. в неделю; '
               || case when spike_withdrawn then 'зарезервированное клиент вывозит со склада'
                       else 'на маркетплейсы этот товар за ' || {{ c['reservation_ship_weeks'] + 1 }}
                            || ' нед. не ушёл' end,
           json_object('reserved_units_1w', spike_reserved, 'baseline_units', spike_reserved_baseline,
                       'stock', spike_stock, 'spike_week', spike_week)
    from {{ ref('churn_features') }} where s_reservation_spike
    union all
    select client_id, week, week_end, null, 'inbound_stopped', 'high',
           weeks_since_inbound || ' нед. без приёмки (обычно поставка раз в '
               || replace(cast(round(usual_inbound_gap_weeks, 1) as varchar), '.', ',') || ' нед.); остаток за 4 недели '
               || {{ ru_int('stock_prev_4w') }} || ' → ' || {{ ru_int('stock_end') }} || ' ед.',
           json_object('weeks_since_inbound', weeks_since_inbound, 'usual_gap_weeks', usual_inbound_gap_weeks,
                       'stock_4w_ago', stock_prev_4w, 'stock_now', stock_end, 'outbound_ratio', outbound_ratio)
    from {{ ref('churn_features') }} where s_inbound_stopped
    union all
    select client_id, week, week_end, null, 'intent_to_leave', 'critical',
           -- the quote itself is the evidence line (warehouse/alerts.py), not said twice
           'клиент сам говорил, что может уйти от нас (' || intent_source || ' '
               || strftime(intent_said_on, '%d.%m.%Y') || ')',
           -- the contract of the renderers (warehouse/alerts.py): exactly these keys
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

{#- the biggest records of the alert's weeks; for stopped supplies the last ones before they stopped #}
{%- set evidence_order = "case when e.alert_type = 'inbound_stopped' then epoch(o.at) else o.units end desc, o.ref" %}

evidence as (  -- the records behind each alert (at most 3): the WMS ones, each readable on its own
    select e.client_id, e.week, e.alert_type,
           list(o.ref order by {{ evidence_order }})[1:3] as evidence_refs,
           list({'ref': o.ref, 'kind': o.kind, 'at': o.at, 'units': o.units, 'number': o.number}
                order by {{ evidence_order }})[1:3] as evidence
    from episodes as e
    join (
        select client_id, ref, units, kind, order_id as number, {{ local_time('created_at') }} as at
        from {{ ref('stg_wms__orders') }} where kind = 'withdrawal'
        union all
        select client_id, ref, units, 'reservation', reservation_id, {{ local_time('created_at') }}
        from {{ ref('stg_wms__reservations') }}
        union all
        select client_id, ref, units, 'receipt', receipt_id, {{ local_time('created_at') }}
        from {{ ref('stg_wms__receipts') }}
    ) as o
      on o.client_id = e.client_id
     and ((e.alert_type = 'withdrawal' and o.kind = 'withdrawal'
           and date_trunc('week', o.at) between e.week - interval 7 day and e.week)
       or (e.alert_type = 'reservation_spike' and o.kind = 'reservation' and date_trunc('week', o.at) = e.spike_week)
       or (e.alert_type = 'inbound_stopped' and o.kind = 'receipt' and o.at < e.week + interval 7 day))
    group by 1, 2, 3
    union all  -- the contacts in which the client spoke of leaving, the quoted one first (the quote is in `figures`)
    select e.client_id, e.week, e.alert_type,
           list(i.ref order by i.occurred_at desc, i.ref desc)[1:3], null
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
    select e.*, '|' || e.alert_type || '|' || strftime(e.episode, '%Y-%m-%d') || '|' || e.severity as episode_key,
           -- the day the figures hold for: a week still running counts to «today», never to its Sunday ahead
           least(e.week_end, {{ today() }}) as as_of,
           least(min(e.week_end) over (partition by e.client_id, e.alert_type, e.severity, e.episode), {{ today() }})
               as detected_on
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
    e.as_of,
    e.detected_on,
    case e.alert_type
        {%- for type, step in c['playbook'].items() %}
        when '{{ type }}' then '{{ step["label"] | replace("'", "''") }}'
        {%- endfor %}
    end as alert_label,
    e.message,
    e.figures,
    coalesce(ev.evidence_refs, []) as evidence_refs,
    coalesce(ev.evidence, []) as evidence,
    -- what the curator does about it, by when (churn.yml `playbook`)
    case e.alert_type
        {%- for type, step in c['playbook'].items() %}
        when '{{ type }}' then '{{ step["action"] | replace("'", "''") }}'
        {%- endfor %}
    end as playbook,
    case e.alert_type
        {%- for type, step in c['playbook'].items() %}
        when '{{ type }}' then e.detected_on + {{ step["days"] | int }}
        {%- endfor %}
    end as due_on
from keyed as e
left join evidence as ev using (client_id, week, alert_type)
left join accounts as a using (client_id)
