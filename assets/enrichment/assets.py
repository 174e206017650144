"""interaction_signals: each meeting, chat day, call and e-mail analysed once per version of its text."""

import hashlib
import json
from collections import Counter

import dagster as dg

from assets.resources import LLMResource, WarehouseResource
from connectors.llm import LLMError
from connectors.llm.signals import analyze_interaction
from warehouse.duck import fetch_dicts, upsert

WHAT = {
    "meetings": "Встреча",
    "telegram": "Переписка в Telegram за день",
    "bitrix_call": "Звонок",
    "bitrix_email": "Письмо",
}
# every event with a text to analyse (int_client_events.body: a meeting, a chat day, a call, an e-mail)
ITEMS_SQL = """
select ref, client_id, case kind when 'звонок' then 'bitrix_call' when 'письмо' then 'bitrix_email' else source end
       as source, occurred_at, body as text
from intermediate.int_client_events
where body is not null
"""


@dg.asset(
    group_name="enrichment",
    deps=[dg.AssetKey("int_client_events")],
    pool="duckdb_write",
    kinds={"duckdb"},
    description=(
        "Сигналы каждого контакта с клиентом (встреча, день переписки, звонок, письмо): настроение от −1 до 1, "
        "тон, жалоба, конфликт, препятствия, обещания нашей стороны, слова клиента об уходе от нас. Анализируется "
        "только новый или изменённый текст; ответы модели кэшируются."
    ),
)
def interaction_signals(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, llm: LLMResource
) -> dg.MaterializeResult:
    with warehouse.connect(read_only=True) as con:
        items = fetch_dicts(con, ITEMS_SQL)
        # rows analysed before profile facts or the intent to leave existed are read once more
        done = {
            ref: (digest, at)
            for ref, digest, at in con.execute(
                "select ref, content_hash, occurred_at from raw.interaction_signals "
                "where facts is not null and leaving_intent is not null"
            ).fetchall()
        }
    model = llm.client()
    rows, moved, failed = [], [], []
    for item in items:
        text = (item["text"] or "").strip()
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if not text:
            continue
        if done.get(item["ref"], (None,))[0] == digest:
            if done[item["ref"]][1] != item["occurred_at"]:  # same text, its time now told in local time
                moved.append({"ref": item["ref"], "occurred_at": item["occurred_at"]})
            continue
        try:
            s = analyze_interaction(
                model, text, what=WHAT.get(item["source"], "Контакт"), client=f"лид {item['client_id']}"
            )
        except LLMError as exc:
            failed.append(f"{item['ref']}: {exc}")
            continue
        rows.append(
            {
                "ref": item["ref"],
                "client_id": item["client_id"],
                "source": item["source"],
                "occurred_at": item["occurred_at"],
                "content_hash": digest,
                "sentiment": s.sentiment,
                "tone": s.tone,
                "complaint": s.complaint,
                "conflict": s.conflict,
                "blockers": json.dumps(s.blockers, ensure_ascii=False),
                "promises": json.dumps([p.model_dump() for p in s.promises], ensure_ascii=False),
                "leaving_intent": json.dumps(s.leaving_intent, ensure_ascii=False),
                "facts": s.facts.model_dump_json(),
                "generated_by": s.generated_by,
                "extractive": s.extractive,
            }
        )
    with warehouse.connect() as con:
        upsert(con, "raw.interaction_signals", rows)
        upsert(con, "raw.interaction_signals", moved)
    usage = model.usage.snapshot()
    metadata = {
        "контактов всего": len(items),
        "проанализировано сейчас": len(rows),
        "без изменений (пропущено)": len(items) - len(rows) - len(failed),
        "время переписано на местное": len(moved),
        "тон": dg.MetadataValue.json(dict(Counter(r["tone"] for r in rows))),
        "жалоб": sum(r["complaint"] for r in rows),
        "со словами об уходе": sum(r["leaving_intent"] != "[]" for r in rows),
        "токенов всего": usage["total_tokens"],
        "ответов из кэша": usage["cache_hits"],
    }
    if failed:
        raise dg.Failure(description="Не удалось проанализировать: " + "; ".join(failed[:10]), metadata=metadata)
    return dg.MaterializeResult(metadata=metadata)
