-- per client: health 0–100 for the latest week, its band, the trend vs the week before and the reasons in Russian
{% set c = var('churn') %}
{% set wt = c['weights'] %}
with

recent as (  -- a strong signal keeps weighing on health for 4 weeks: a client who has left stays red (the words
             -- about leaving: for intent_weeks, counted in churn_features)
    select
        *,
        bool_or(s_withdrawal) over w4 as r_withdrawal,
        max(withdrawal_share_2w) filter (where s_withdrawal) over w4 as r_withdrawal_share,
        bool_or(s_reservation_spike) over w4 as r_reservation_spike,
        max(spike_reserved_share) filter (where s_reservation_spike) over w4 as r_reserved_share,
        bool_or(s_inbound_stopped) over w4 as r_inbound_stopped
    from {{ ref('churn_features') }}
    window w4 as (partition by client_id order by week rows between 3 preceding and current row)
),

scored as (
    select
        client_id,
        week,
        week_end,
        -- the points each part of the relationship takes off (the card shows what the score is made of)
        {{ wt['withdrawal'] }} * r_withdrawal::int + {{ wt['reservation_spike'] }} * r_reservation_spike::int
            + {{ wt['inbound_stopped'] }} * r_inbound_stopped::int
            + {{ wt['outbound_falling'] }} * s_outbound_falling::int as minus_warehouse,
        {{ wt['engagement_drop'] }} * s_engagement_drop::int + {{ wt['silence'] }} * s_silence::int as minus_contact,
        {{ wt['tone_drop'] }} * s_tone_drop::int as minus_tone,
        {{ wt['conflicts'] }} * s_conflicts::int as minus_complaints,
        {{ wt['unkept_promises'] }} * s_unkept_promises::int as minus_promises,
        {{ wt['intent_to_leave'] }} * s_intent_to_leave::int as minus_intent,  -- the client's words about leaving
        greatest(0, 100
            - {{ wt['intent_to_leave'] }} * s_intent_to_leave::int
            - {{ wt['withdrawal'] }} * r_withdrawal::int
            - {{ wt['reservation_spike'] }} * r_reservation_spike::int
            - {{ wt['inbound_stopped'] }} * r_inbound_stopped::int
            - {{ wt['outbound_falling'] }} * s_outbound_falling::int
            - {{ wt['engagement_drop'] }} * s_engagement_drop::int
            - {{ wt['tone_drop'] }} * s_tone_drop::int
            - {{ wt['conflicts'] }} * s_conflicts::int
            - {{ wt['silence'] }} * s_silence::int
            - {{ wt['unkept_promises'] }} * s_unkept_promises::int) as score,
        concat_ws('; ',
            case when s_intent_to_leave then 'клиент говорил об уходе: «'
                || {{ clip_words("rtrim(intent_quote, '.')", 80) }} || '» ('
                || intent_source || ' ' || strftime(intent_said_on, '%d.%m.%Y') || ')' end,
            case when r_withdrawal then 'вывез до ' || cast(round(100 * r_withdrawal_share) as bigint) || ' % остатков за 2 недели' end,
            case when r_reservation_spike then 'резервировал до ' || cast(round(100 * r_reserved_share) as bigint)
                || ' % остатков за неделю' end,
            case when r_inbound_stopped then 'поставки прекратились, остаток тает (сейчас ' || stock_end || ' ед.)' end,
            case when s_outbound_falling then 'отгрузки на маркетплейсы упали до '
                || cast(round(100 * outbound_ratio) as bigint) || ' % от прежних' end,
            case when s_engagement_drop then 'общение стало реже: ' || contacts_4w || ' контактов за 4 недели' end,
            case when s_tone_drop then 'тон общения ухудшился: ' || round(sentiment_prior_9w, 2) || ' → '
                || round(sentiment_4w, 2) end,
            case when s_conflicts then 'жалобы или конфликт в ' || conflicts_4w || ' контактах за 4 недели' end,
            case when s_silence then 'клиент молчит ' || silence_days || ' дн. (обычно на связи раз в '
                || cast(round(usual_contact_gap_days) as bigint) || ' дн.)' end,
            case when s_unkept_promises then 'не выполнено обещаний: ' || unkept_promises_4w
                || ' («' || left(unkept_promise_example, 80) || '»)' end
        ) as reasons
    from recent
),

latest as (
    select *, lag(score) over (partition by client_id order by week) as score_prev_week,
           list(score) over (partition by client_id order by week rows between 11 preceding and current row)
               as score_weeks
    from scored
    qualify week = max(week) over (partition by client_id)
)

select
    client_id,
    week_end as as_of,
    score,
    case when score >= {{ c['bands']['green'] }} then 'зелёный'
         when score >= {{ c['bands']['yellow'] }} then 'жёлтый'
         else 'красный' end as band,
    score - score_prev_week as trend_vs_last_week,
    score_weeks,  -- the weekly scores of the last 12 weeks, oldest first
    minus_warehouse,
    minus_contact,
    minus_tone,
    minus_complaints,
    minus_promises,
    minus_intent,
    nullif(reasons, '') as top_reasons
from latest
