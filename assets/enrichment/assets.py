"""interaction_signals: each meeting, chat day, call and e-mail analysed once per version of its text."""

import hashlib
import json
from collections import Counter

import dagster as dg

from assets.bitrix24.assets import bitrix_activities, bitrix_call_transcripts
from assets.meetings.assets import meeting_summaries
from assets.telegram.assets import telegram_daily_summaries
from connectors.llm import LLMError
from connectors.llm.signals import analyze_interaction
from warehouse.duck import fetch_dicts, upsert

WHAT = {
    "meetings": "Встреча",
    "telegram": "Переписка в Telegram за день",
    "bitrix_call": "Звонок",
    "bitrix_email": "Письмо",
}

ITEMS_SQL = """
select 'meeting:' || s.recording_id as ref, s.client_id, 'meetings' as source, s.started_at as occurred_at,
       coalesce(t.text, s.summary_text) as text
from raw.meeting_summaries s left join raw.meeting_transcripts t using (recording_id)
union all
select 'telegram_day:' || client_id || ':' || day, client_id, 'telegram', cast(day as timestamp),
       summary_text
from raw.telegram_daily_summaries
union all
select 'bitrix:' || a.activity_id, a.client_id, 'bitrix_' || a.kind, a.started_at,
       coalesce(t.text, a.body_text, a.subject)
from raw.bitrix_activities a left join raw.bitrix_call_transcripts t using (activity_id)
where a.kind in ('call', 'email') and a.client_id is not null
"""


@dg.asset(
    group_name="enrichment",
    deps=[
        dg.AssetDep(meeting_summaries, partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep(telegram_daily_summaries, partition_mapping=dg.AllPartitionMapping()),
        bitrix_activities,
        bitrix_call_transcripts,
    ],
    required_resource_keys={"warehouse", "llm"},
    pool="duckdb_write",
    kinds={"duckdb"},
    description=(
        "Сигналы каждого контакта с клиентом (встреча, день переписки, звонок, письмо): настроение от −1 до 1, "
        "тон, жалоба, конфликт, препятствия, обещания нашей стороны. Анализируется только новый или изменённый "
        "текст; ответы модели кэшируются."
    ),
)
def interaction_signals(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    with context.resources.warehouse.connect(read_only=True) as con:
        items = fetch_dicts(con, ITEMS_SQL)
        # rows analysed before profile facts existed are read once more
        done = dict(
            con.execute("select ref, content_hash from raw.interaction_signals where facts is not null").fetchall()
        )
    llm = context.resources.llm.client()
    rows, failed = [], []
    for item in items:
        text = (item["text"] or "").strip()
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if not text or done.get(item["ref"]) == digest:
            continue
        try:
            s = analyze_interaction(
                llm, text, what=WHAT.get(item["source"], "Контакт"), client=f"лид {item['client_id']}"
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
                "facts": s.facts.model_dump_json(),
                "generated_by": s.generated_by,
                "extractive": s.extractive,
            }
        )
    with context.resources.warehouse.connect() as con:
        upsert(con, "raw.interaction_signals", rows)
    usage = llm.usage.snapshot()
    metadata = {
        "контактов всего": len(items),
        "проанализировано сейчас": len(rows),
        "без изменений (пропущено)": len(items) - len(rows) - len(failed),
        "тон": dg.MetadataValue.json(dict(Counter(r["tone"] for r in rows))),
        "жалоб": sum(r["complaint"] for r in rows),
        "токенов всего": usage["total_tokens"],
        "ответов из кэша": usage["cache_hits"],
    }
    if failed:
        raise dg.Failure(description="Не удалось проанализировать: " + "; ".join(failed[:10]), metadata=metadata)
    return dg.MaterializeResult(metadata=metadata)
