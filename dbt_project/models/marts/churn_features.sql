-- per client and week: the churn signals, each explainable by its figures (thresholds: dbt_project/churn.yml)
{% set c = var('churn') %}
with

w as (
    select
        *,
        week + interval 6 day as week_end,
        lag(stock_end, 1) over win as stock_prev_1w,
        lag(stock_end, 2) over win as stock_prev_2w,
        lag(stock_end, 4) over win as stock_prev_4w,
        withdrawal + coalesce(lag(withdrawal, 1) over win, 0) as withdrawal_2w,
        median(reserved) over (partition by client_id order by week rows between 12 preceding and 1 preceding)
            as reserved_baseline,
        max(case when inbound > 0 then week end) over (
            partition by client_id order by week rows between unbounded preceding and current row) as last_inbound_week,
        count(*) filter (where inbound > 0) over (
            partition by client_id order by week rows between 26 preceding and 1 preceding) as inbound_weeks_26,
        count(*) over (partition by client_id order by week rows between 26 preceding and 1 preceding) as history_weeks,
        sum(outbound) over (partition by client_id order by week rows between 3 preceding and current row) as outbound_4w,
        sum(outbound) over (partition by client_id order by week rows between 11 preceding and 4 preceding)
            as outbound_prior_8w
    from {{ ref('int_wms_weekly') }}
    window win as (partition by client_id order by week)
),

signals as (  -- what was said, per week: mean sentiment and conflict/complaint mentions
    select client_id, date_trunc('week', occurred_at) as week,
           avg(sentiment) as sentiment, count(*) filter (where conflict or complaint) as conflicts
    from {{ ref('stg_enrichment__interaction_signals') }}
    where client_id is not null
    group by 1, 2
),

comms as (
    select client_id, date_trunc('week', day) as week,
           sum(messages_in + messages_out + meetings + calls + emails) as contacts
    from {{ ref('client_daily_activity') }}
    group by 1, 2
),

features as (
    select
        w.*,
        w.withdrawal_2w / nullif(w.stock_prev_2w, 0) as withdrawal_share_2w,
        w.reserved / nullif(w.stock_prev_1w, 0) as reserved_share_1w,
        w.reserved / nullif(w.reserved_baseline, 0) as reservation_ratio,
        date_diff('week', coalesce(w.last_inbound_week, w.week - interval 52 week), w.week) as weeks_since_inbound,
        w.history_weeks / nullif(w.inbound_weeks_26, 0) as usual_inbound_gap_weeks,
        1 - w.stock_end / nullif(w.stock_prev_4w, 0) as drawdown_4w,
        w.outbound_4w / nullif(w.outbound_prior_8w / 2.0, 0) as outbound_ratio,
        w.stock_end / nullif(w.outbound_4w / 4.0, 0) as cover_weeks,
        sum(coalesce(cm.contacts, 0)) over (
            partition by w.client_id order by w.week rows between 3 preceding and current row) as contacts_4w,
        avg(sg.sentiment) over (
            partition by w.client_id order by w.week rows between 3 preceding and current row) as sentiment_4w,
        avg(sg.sentiment) over (
            partition by w.client_id order by w.week rows between 12 preceding and 4 preceding) as sentiment_prior_9w,
        sum(coalesce(sg.conflicts, 0)) over (
            partition by w.client_id order by w.week rows between 3 preceding and current row) as conflicts_4w,
        sum(coalesce(cm.contacts, 0)) over (
            partition by w.client_id order by w.week rows between 12 preceding and 4 preceding) as contacts_prior_9w
    from w
    left join comms as cm on cm.client_id = w.client_id and cm.week = w.week
    left join signals as sg on sg.client_id = w.client_id and sg.week = w.week
)

select
    *,
    coalesce(withdrawal_share_2w >= {{ c['withdrawal_share_2w'] }}, false) as s_withdrawal,
    coalesce(reserved_share_1w >= {{ c['reservation_share_1w'] }}
        and reserved >= {{ c['reservation_spike_ratio'] }} * coalesce(reserved_baseline, 0), false) as s_reservation_spike,
    coalesce(history_weeks >= 8
        and weeks_since_inbound >= greatest(3, {{ c['inbound_gap_factor'] }} * usual_inbound_gap_weeks)
        and drawdown_4w >= {{ c['drawdown_4w'] }}
        and cover_weeks < {{ c['cover_weeks'] }}, false) as s_inbound_stopped,
    coalesce(history_weeks >= 8 and outbound_ratio < {{ c['outbound_fall'] }}, false) as s_outbound_falling,
    coalesce(contacts_prior_9w >= 6
        and contacts_4w * 9.0 / 4 < {{ c['engagement_drop'] }} * contacts_prior_9w, false) as s_engagement_drop,
    coalesce(sentiment_prior_9w - sentiment_4w >= {{ c['tone_drop'] }}, false) as s_tone_drop,
    coalesce(conflicts_4w >= {{ c['conflicts_4w'] }}, false) as s_conflicts
from features
