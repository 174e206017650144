"""client_profile: the client's facts, each with the evidence behind it, kept current by merging new evidence.

Facts said in conversations come from `interaction_signals.facts` (extracted in the same model call, so no text is
paid for twice). A text read before is re-read only when it changed: its old facts are withdrawn first. Facts seen
in the WMS (marketplaces, schemes, volumes, first shipment) and the CRM (lead created) are recomputed every run.
"""

import json
from collections import Counter
from datetime import datetime

import dagster as dg

from assets.enrichment.assets import interaction_signals
from assets.metadata import md_table
from assets.resources import WarehouseResource
from connectors.llm.profile import KINDS, ProfileFacts, fact_key
from warehouse.duck import fetch_dicts, upsert
from warehouse.refs import make_ref

LABELS = {**KINDS, "since": "С нами с"}
WMS_MARKETPLACES = {"wildberries": "Wildberries", "ozon": "Ozon", "yandex_market": "Яндекс Маркет"}

PENDING_SQL = """
select s.ref, s.client_id, s.occurred_at, s.content_hash, s.facts
from raw.interaction_signals as s
left join raw.client_profile_evidence as e using (ref)
where s.client_id is not null and s.facts is not null and (e.ref is null or e.content_hash <> s.content_hash)
order by s.occurred_at
"""

# per client and marketplace/scheme: orders of the last 180 days and the latest of them (the evidence)
WMS_SQL = """
with o as (
    select client_id, ref, kind, lower(marketplace) as marketplace, created_at, units
    from staging.stg_wms__orders
    where client_id is not null and record_status = 'ok' and kind in ('marketplace', 'fbs')
      and created_at >= (select max(created_at) from staging.stg_wms__orders) - interval 180 day
)
select client_id, 'marketplaces' as kind, marketplace as value, count(*) as orders, sum(units) as units,
       arg_max(ref, created_at) as ref, max(created_at) as at
from o where marketplace is not null group by 1, 3
union all
select client_id, 'schemes', case kind when 'fbs' then 'FBS' else 'FBO' end, count(*), sum(units),
       arg_max(ref, created_at), max(created_at)
from o group by 1, 3
union all
select client_id, 'volumes', null, count(*), sum(units), arg_max(ref, created_at), max(created_at)
from o where created_at >= (select max(created_at) from o) - interval 30 day group by 1
"""

# when the client came: the lead's creation in the CRM (ref built below) and the first WMS order
SINCE_SQL = """
select client_id, created_at as at, null as ref, 'bitrix' as origin
from staging.stg_bitrix24__leads where created_at is not null
union all
select client_id, min(created_at), arg_min(ref, created_at), 'wms'
from staging.stg_wms__orders
where client_id is not null group by 1
"""


def _fact(client_id, kind, key, value, origin, sources, detail=None) -> dict:
    times = [s["at"] for s in sources if s.get("at")]
    return {
        "client_id": client_id,
        "kind": kind,
        "fact_key": key,
        "value": value,
        "detail": detail,
        "origin": origin,
        "sources": sources,
        "mentions": len(sources),
        "first_seen": min(times) if times else None,
        "last_confirmed": max(times) if times else None,
    }


def _iso(value) -> str | None:
    return value.isoformat(sep=" ", timespec="seconds") if isinstance(value, datetime) else value


def merge_conversation_facts(existing: list[dict], pending: list[dict]) -> tuple[dict, Counter]:
    """Existing conversation facts of the affected clients + new evidence → the facts to keep, keyed."""
    facts = {(f["client_id"], f["kind"], f["fact_key"]): {**f, "sources": list(f["sources"])} for f in existing}
    stats = Counter()
    refs = {p["ref"] for p in pending}
    for fact in facts.values():  # a changed text withdraws what its old version said
        before = len(fact["sources"])
        fact["sources"] = [s for s in fact["sources"] if s["ref"] not in refs]
        stats["снято"] += before - len(fact["sources"])
    for item in pending:
        parsed = ProfileFacts.model_validate(json.loads(item["facts"]) if isinstance(item["facts"], str) else {})
        for kind, key, value in parsed.items():
            k = (item["client_id"], kind, key)
            source = {"ref": item["ref"], "at": _iso(item["occurred_at"])}
            if k in facts and any(s["ref"] == item["ref"] for s in facts[k].get("sources", [])):
                continue  # said twice in one text
            if k in facts and facts[k]["sources"]:
                stats["подтверждено"] += 1
            else:
                stats["новых фактов"] += 1
                facts.setdefault(k, {"value": value})
            facts[k] = {**facts[k], "sources": [*facts[k].get("sources", []), source], "value": value}
    merged = {}
    for (client_id, kind, key), fact in facts.items():
        if fact["sources"]:
            merged[(client_id, kind, key)] = _fact(client_id, kind, key, fact["value"], "conversation", fact["sources"])
    return merged, stats


def system_facts(con) -> list[dict]:
    """What the WMS and the CRM show, recomputed each run."""
    out = []
    for r in fetch_dicts(con, WMS_SQL):
        source = [{"ref": r["ref"], "at": _iso(r["at"])}]
        if r["kind"] == "volumes":
            value = f"за 30 дней отгружено {r['units']} ед. ({r['orders']} заказов)"
            out.append(_fact(r["client_id"], "volumes", "wms_30d", value, "wms", source))
            continue
        value = WMS_MARKETPLACES.get(r["value"], r["value"]) if r["kind"] == "marketplaces" else r["value"]
        detail = f"{r['orders']} заказов за полгода (по данным склада)"
        out.append(_fact(r["client_id"], r["kind"], fact_key(r["kind"], value), value, "wms", source, detail))
    for r in fetch_dicts(con, SINCE_SQL):
        what = "лид создан в Битрикс24" if r["origin"] == "bitrix" else "первая отгрузка со склада"
        ref = make_ref("bitrix_lead", r["client_id"]) if r["origin"] == "bitrix" else r["ref"]
        source = [{"ref": ref, "at": _iso(r["at"])}]
        out.append(_fact(r["client_id"], "since", r["origin"], f"{r['at']:%d.%m.%Y}", r["origin"], source, what))
    return out


@dg.asset(
    group_name="enrichment",
    deps=[interaction_signals, dg.AssetKey("stg_wms__orders"), dg.AssetKey("stg_bitrix24__leads")],
    pool="duckdb_write",
    kinds={"duckdb"},
    description=(
        "Профиль клиента: что продаёт, бренды, маркетплейсы и схемы (FBO/FBS), с какого времени с нами, объёмы, "
        "боли, конфликты — каждый факт со ссылками на встречи, переписку, звонки, письма или данные склада/CRM и "
        "датой последнего подтверждения. Новые тексты дополняют профиль, изменённые — заменяют свои факты."
    ),
)
def client_profile(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        pending = fetch_dicts(con, PENDING_SQL)
        clients = sorted({p["client_id"] for p in pending})
        existing = []
        if clients:
            existing = fetch_dicts(
                con,
                "select client_id, kind, fact_key, value, sources from raw.client_profile_facts "
                "where origin = 'conversation' and list_contains(?, client_id)",
                [clients],
            )
            for f in existing:
                f["sources"] = json.loads(f["sources"])
        merged, stats = merge_conversation_facts(existing, pending)
        system = system_facts(con)
        con.execute("begin")
        if clients:
            con.execute(
                "delete from raw.client_profile_facts where origin = 'conversation' and list_contains(?, client_id)",
                [clients],
            )
        con.execute("delete from raw.client_profile_facts where origin <> 'conversation'")
        rows = [{**f, "sources": json.dumps(f["sources"], ensure_ascii=False)} for f in [*merged.values(), *system]]
        upsert(con, "raw.client_profile_facts", rows)
        evidence = [{"ref": p["ref"], "content_hash": p["content_hash"]} for p in pending]
        upsert(con, "raw.client_profile_evidence", evidence)
        con.execute("commit")
        totals = dict(con.execute("select kind, count(*) from raw.client_profile_facts group by 1").fetchall())
    newest = sorted(merged.values(), key=lambda f: f["last_confirmed"] or "", reverse=True)[:10]
    return dg.MaterializeResult(
        metadata={
            "прочитано новых текстов": len(pending),
            "клиентов обновлено": len(clients),
            "новых фактов": stats["новых фактов"],
            "подтверждено": stats["подтверждено"],
            "снято (текст изменился)": stats["снято"],
            "фактов по видам": dg.MetadataValue.json({LABELS[k]: v for k, v in totals.items()}),
            "последние факты": md_table(
                ("клиент", "вид", "факт", "упоминаний"),
                [(f["client_id"], LABELS[f["kind"]], f["value"][:80], f["mentions"]) for f in newest],
            ),
        }
    )
