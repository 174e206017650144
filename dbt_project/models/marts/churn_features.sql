-- per client and week: the churn signals, each explainable by its figures (thresholds: dbt_project/churn.yml); the
-- client's words about leaving us stay on for intent_weeks with the latest quote, its source, day and reference.
-- Every known client has a row per week from its first event to the latest data (26 weeks past its last event
-- at most), so silence shows up as weeks without contacts. Incremental: weeks from the earliest one touched by
-- newly loaded rows are rebuilt, reading the 60 weeks before them for the rolling windows.
{% set c = var('churn') %}
{{ config(materialized='incremental', unique_key=['client_id', 'week'], incremental_strategy='delete+insert') }}
{% set lookback = "interval 60 week" %}
with

{% if is_incremental() %}
{% set wm = watermark() %}
{% set cutoff_sql %}
    select coalesce(cast(date_trunc('week', min(day)) as date), date '9999-01-04') as day,
           max(loaded_at) as stamp
    from (
        select week as day, loaded_at from {{ ref('int_wms_weekly') }} where loaded_at > {{ wm }}
        union all
        select day, loaded_at from {{ ref('fct_client_daily_activity') }} where loaded_at > {{ wm }}
        union all
        select cast(occurred_at as date), loaded_at  -- signals carry their event's local time
        from {{ ref('stg_enrichment__interaction_signals') }} where loaded_at > {{ wm }}
        union all
        select promised_on, loaded_at from {{ ref('int_promises') }} where loaded_at > {{ wm }}
        union all  -- a new week began: every client gets its row
        select max(day), null from {{ ref('fct_client_daily_activity') }}
        having date_trunc('week', max(day)) > (select max(week) from {{ this }})
    )
{% endset %}
{% set row = first_row(cutoff_sql, 2) %}
{% set cutoff, stamp = date_literal(row[0]), ts_literal(row[1]) %}
{% endif %}

as_of as (
    select cast(date_trunc('week', least(max(day), {{ today() }})) as date) as week
    from {{ ref('fct_client_daily_activity') }}
),

span as (
    select client_id, cast(date_trunc('week', min(day)) as date) as first_week,
           cast(date_trunc('week', max(day)) as date) as last_week
    from {{ ref('fct_client_daily_activity') }}
    group by 1
),

grid as (
    select client_id, cast(unnest(generate_series(
        {% if is_incremental() %}greatest(first_week, {{ cutoff }} - {{ lookback }}){% else %}first_week{% endif %},
        least(last_week + interval 26 week, (select week from as_of)),
        interval 7 day)) as date) as week
    from span
),

comms as (
    select client_id, cast(date_trunc('week', day) as date) as week,
           sum(messages_in + messages_out + meetings + calls + emails) as contacts,
           count(*) filter (where messages_in + meetings + calls + emails > 0) as contact_days,
           max(day) filter (where messages_in + meetings + calls + emails > 0) as last_contact_day,
           max(loaded_at) as loaded_at
    from {{ ref('fct_client_daily_activity') }}
    where true {{ from_cutoff('day', cutoff, slack=lookback) }}
    group by 1, 2
),

signals as (  -- what was said, per week: mean sentiment and conflict/complaint mentions
    select client_id, cast(date_trunc('week', occurred_at) as date) as week,
           avg(sentiment) as sentiment, count(*) filter (where conflict or complaint) as conflicts,
           max(loaded_at) as loaded_at
    from {{ ref('stg_enrichment__interaction_signals') }}
    where client_id is not null {{ from_cutoff('occurred_at', cutoff, slack=lookback) }}
    group by 1, 2
),

intents as (  -- the client's words about leaving us, per week: contacts with them and the latest one
    select client_id, cast(date_trunc('week', occurred_at) as date) as week, count(*) as intent_contacts,
           max({'at': occurred_at, 'ref': ref, 'quote': quote, 'source': source_label}) as intent_latest,
           max(loaded_at) as loaded_at
    from {{ ref('int_leaving_intents') }}
    where true {{ from_cutoff('occurred_at', cutoff, slack=lookback) }}
    group by 1, 2
),

unkept as (  -- promises that fell due that week without a follow-up from us
    select client_id, cast(date_trunc('week', deadline) as date) as week, count(*) as unkept_promises,
           min(what) as unkept_example, max(loaded_at) as loaded_at
    from {{ ref('int_promises') }}
    where no_follow_up and due_passed {{ from_cutoff('deadline', cutoff, slack=lookback) }}
    group by 1, 2
),

joined as (
    select
        g.client_id,
        g.week,
        cast(g.week + interval 6 day as date) as week_end,
        w.client_id is not null as has_wms,
        coalesce(w.outbound, 0) as outbound,
        coalesce(w.withdrawal, 0) as withdrawal,
        coalesce(w.inbound, 0) as inbound,
        coalesce(w.reserved, 0) as reserved,
        w.stock_end,
        coalesce(cm.contacts, 0) as contacts,
        coalesce(cm.contact_days, 0) as contact_days,
        cm.last_contact_day,
        sg.sentiment,
        coalesce(sg.conflicts, 0) as conflicts,
        coalesce(u.unkept_promises, 0) as unkept_promises,
        u.unkept_example,
        coalesce(i.intent_contacts, 0) as intent_contacts,
        i.intent_latest,
        {{ batch_loaded_at('greatest(w.loaded_at, cm.loaded_at, sg.loaded_at, u.loaded_at, i.loaded_at)', stamp) }}
            as loaded_at
    from grid as g
    left join {{ ref('int_wms_weekly') }} as w
        on w.client_id = g.client_id and w.week = g.week
    left join comms as cm on cm.client_id = g.client_id and cm.week = g.week
    left join signals as sg on sg.client_id = g.client_id and sg.week = g.week
    left join unkept as u on u.client_id = g.client_id and u.week = g.week
    left join intents as i on i.client_id = g.client_id and i.week = g.week
),

w as (
    select
        *,
        lag(stock_end, 1) over win as stock_prev_1w,
        lag(stock_end, 2) over win as stock_prev_2w,
        lag(stock_end, 4) over win as stock_prev_4w,
        withdrawal + coalesce(lag(withdrawal, 1) over win, 0) as withdrawal_2w,
        median(reserved) filter (where has_wms) over (
            partition by client_id order by week rows between 12 preceding and 1 preceding) as reserved_baseline,
        median(outbound) filter (where has_wms) over (
            partition by client_id order by week rows between 12 preceding and 1 preceding) as outbound_baseline,
        max(case when inbound > 0 then week end) over (
            partition by client_id order by week rows between 52 preceding and current row) as last_inbound_week,
        count(*) filter (where inbound > 0) over (
            partition by client_id order by week rows between 26 preceding and 1 preceding) as inbound_weeks_26,
        count(*) filter (where has_wms) over (
            partition by client_id order by week rows between 26 preceding and 1 preceding) as history_weeks,
        sum(outbound) over (partition by client_id order by week rows between 3 preceding and current row) as outbound_4w,
        sum(outbound) over (partition by client_id order by week rows between 11 preceding and 4 preceding)
            as outbound_prior_8w,
        sum(outbound) over (partition by client_id order by week rows between 55 preceding and 52 preceding)
            as outbound_4w_last_year,
        count(*) filter (where has_wms) over (
            partition by client_id order by week rows between 55 preceding and 52 preceding) as last_year_weeks,
        max(last_contact_day) over (
            partition by client_id order by week rows between 30 preceding and current row) as last_contact_day_30w,
        sum(contact_days) over (
            partition by client_id order by week rows between 29 preceding and 4 preceding) as contact_days_prior_26w,
        sum(contacts) over (partition by client_id order by week rows between 3 preceding and current row) as contacts_4w,
        sum(contacts) over (
            partition by client_id order by week rows between 12 preceding and 4 preceding) as contacts_prior_9w,
        avg(sentiment) over (partition by client_id order by week rows between 3 preceding and current row)
            as sentiment_4w,
        avg(sentiment) over (partition by client_id order by week rows between 12 preceding and 4 preceding)
            as sentiment_prior_9w,
        sum(conflicts) over (partition by client_id order by week rows between 3 preceding and current row)
            as conflicts_4w,
        sum(unkept_promises) over (partition by client_id order by week rows between 3 preceding and current row)
            as unkept_promises_4w,
        max(unkept_example) over (partition by client_id order by week rows between 3 preceding and current row)
            as unkept_promise_example,
        sum(intent_contacts) over intent_window as intent_contacts_recent,
        max(intent_latest) over intent_window as intent_recent
    from joined
    window win as (partition by client_id order by week),
           intent_window as (partition by client_id order by week
                             rows between {{ c['intent_weeks'] - 1 }} preceding and current row)
),

features as (
    select
        *,
        withdrawal_2w / nullif(stock_prev_2w, 0) as withdrawal_share_2w,
        reserved / nullif(stock_prev_1w, 0) as reserved_share_1w,
        reserved / nullif(reserved_baseline, 0) as reservation_ratio,
        date_diff('week', coalesce(last_inbound_week, week - interval 52 week), week) as weeks_since_inbound,
        history_weeks / nullif(inbound_weeks_26, 0) as usual_inbound_gap_weeks,
        1 - stock_end / nullif(stock_prev_4w, 0) as drawdown_4w,
        outbound_4w / nullif(outbound_prior_8w / 2.0, 0) as outbound_ratio,
        case when last_year_weeks = 4 then outbound_4w / nullif(outbound_4w_last_year, 0) end as outbound_yoy_ratio,
        stock_end / nullif(outbound_4w / 4.0, 0) as cover_weeks,
        -- silence so far: the current week counts to «today», not to its Sunday still ahead
        date_diff('day', last_contact_day_30w, least(week_end, {{ today() }})) as silence_days,
        26 * 7.0 / nullif(contact_days_prior_26w, 0) as usual_contact_gap_days,
        -- the latest words about leaving of the last intent_weeks weeks: what, where, when, which contact
        intent_recent.quote as intent_quote,
        intent_recent.source as intent_source,
        cast(intent_recent.at as date) as intent_said_on,
        intent_recent.ref as intent_ref
    from w
),

spiked as (  -- a week that reserves far more than usual: not yet a signal, see `reserved_goods` below
    select
        *,
        coalesce(has_wms and reserved_share_1w >= {{ c['reservation_share_1w'] }}
            and reserved >= {{ c['reservation_spike_ratio'] }} * coalesce(reserved_baseline, 0), false) as raw_spike
    from features
),

reserved_goods as (
    -- where a spike's goods went: to the marketplaces (outbound above its usual level, in the spike's week and the
    -- `reservation_ship_weeks` after it) is a big supply, normal business; a withdrawal, or nothing shipped once
    -- those weeks are over, is the client taking its goods away. The signal sits on the window's last week, once
    -- that week is over (a week still running may yet ship them).
    select
        *,
        sum(outbound) over (partition by client_id order by week
            rows between {{ c['reservation_ship_weeks'] }} preceding and current row)
            - ({{ c['reservation_ship_weeks'] + 1 }}) * coalesce(lag(outbound_baseline, {{ c['reservation_ship_weeks'] }})
                over win, 0) as shipped_after_spike,
        coalesce(lag(raw_spike, {{ c['reservation_ship_weeks'] }}) over win, false) and week_end < {{ today() }}
            as spike_window_closed,
        lag(reserved, {{ c['reservation_ship_weeks'] }}) over win as reserved_at_spike,
        arg_max(week, reserved) filter (where raw_spike) over (partition by client_id order by week
            rows between {{ c['reservation_ship_weeks'] }} preceding and current row) as open_spike_week,
        max(reserved) filter (where raw_spike) over (partition by client_id order by week
            rows between {{ c['reservation_ship_weeks'] }} preceding and current row) as open_spike_reserved,
        sum(withdrawal) over (partition by client_id order by week
            rows between {{ c['reservation_ship_weeks'] }} preceding and current row) as withdrawn_since_spike
    from spiked
    window win as (partition by client_id order by week)
),

spike_outcome as (
    select
        *,
        coalesce(withdrawn_since_spike >= {{ c['reservation_shipped_share'] }} * open_spike_reserved, false)
            as spike_withdrawn,
        case
            when withdrawn_since_spike >= {{ c['reservation_shipped_share'] }} * open_spike_reserved
                then open_spike_week
            when spike_window_closed
                and coalesce(shipped_after_spike, 0) < {{ c['reservation_shipped_share'] }} * reserved_at_spike
                then cast(week - to_weeks({{ c['reservation_ship_weeks'] }}) as date)
        end as spike_week
    from reserved_goods
),

with_spike as (  -- the figures of the spike a signal is about (it may be some weeks back)
    select o.*, sp.reserved as spike_reserved, sp.reserved_share_1w as spike_reserved_share,
           sp.reserved_baseline as spike_reserved_baseline, sp.stock_prev_1w as spike_stock
    from spike_outcome as o
    left join spiked as sp on sp.client_id = o.client_id and sp.week = o.spike_week
)

select
    * exclude (unkept_example, intent_latest, intent_recent, shipped_after_spike, spike_window_closed,
               reserved_at_spike, open_spike_week, open_spike_reserved, withdrawn_since_spike),
    coalesce(has_wms and withdrawal_share_2w >= {{ c['withdrawal_share_2w'] }}, false) as s_withdrawal,
    spike_week is not null as s_reservation_spike,
    coalesce(history_weeks >= 8
        and weeks_since_inbound >= greatest(3, {{ c['inbound_gap_factor'] }} * usual_inbound_gap_weeks)
        and drawdown_4w >= {{ c['drawdown_4w'] }}
        and cover_weeks < {{ c['cover_weeks'] }}, false) as s_inbound_stopped,
    coalesce(history_weeks >= 8 and outbound_ratio < {{ c['outbound_fall'] }}
        and coalesce(outbound_yoy_ratio < {{ c['outbound_yoy'] }}, true), false) as s_outbound_falling,
    coalesce(contacts_prior_9w >= 6
        and contacts_4w * 9.0 / 4 < {{ c['engagement_drop'] }} * contacts_prior_9w, false) as s_engagement_drop,
    coalesce(sentiment_prior_9w - sentiment_4w >= {{ c['tone_drop'] }}, false) as s_tone_drop,
    coalesce(conflicts_4w >= {{ c['conflicts_4w'] }}, false) as s_conflicts,
    coalesce(contact_days_prior_26w >= {{ c['silence_min_contact_days'] }}
        and coalesce(silence_days, 999) >= greatest({{ c['silence_min_days'] }},
                                                    {{ c['silence_factor'] }} * usual_contact_gap_days), false)
        as s_silence,
    coalesce(unkept_promises_4w >= {{ c['unkept_promises_4w'] }}, false) as s_unkept_promises,
    coalesce(intent_contacts_recent > 0, false) as s_intent_to_leave
from with_spike
{#- a spike's window closes weeks after it: those weeks are built again, so a week that was still running is not left
    without its signal #}
{% if is_incremental() %}where week >= {{ cutoff }} - interval {{ 7 * c['reservation_ship_weeks'] }} day{% endif %}
