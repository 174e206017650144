-- per client: the profile in one row — each kind of fact as a short text for the card, plus every fact with
-- its sources and the date it was last confirmed. Pains and conflicts not confirmed for 180 days are kept in
-- `facts` (stale) but left out of the short texts.
with

facts as (
    select
        *,
        kind in ('pains', 'conflicts') and last_confirmed < {{ today() }} - interval 180 day as stale
    from {{ ref('stg_enrichment__client_profile_facts') }}
    where client_id is not null
),

{% set kinds = ['products', 'brands', 'marketplaces', 'schemes', 'volumes', 'pains', 'conflicts'] %}
texts as (
    select
        client_id,
        {% for k in kinds %}
        string_agg(distinct value, '; ' order by value) filter (where kind = '{{ k }}' and not stale) as {{ k }},
        {% endfor %}
        min(try_strptime(value, '%d.%m.%Y')) filter (where kind = 'since') as with_us_since,
        max(last_confirmed) as profile_confirmed_at,
        list(struct_pack(kind, value, detail, origin, mentions, first_seen, last_confirmed, stale,
                         sources := sources)
             order by kind, mentions desc, last_confirmed desc) as facts
    from facts
    group by 1
)

select * from texts
