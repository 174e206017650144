"""rag_index: the LanceDB index of every passage, updated incrementally (only new or changed passages are embedded,
passages whose original is gone are removed).

The stored hash covers the embedder too, so after a change of C360_EMBED_PROVIDER/MODEL/DIM (or of the local
embedder itself) every passage is embedded anew; a new vector size recreates the table (RagIndex.table).
"""

import hashlib

import dagster as dg

from assets.resources import RagResource, WarehouseResource
from config.settings import get_settings
from rag.chunks import all_chunks

EMBED_BATCH = 256


@dg.asset(
    group_name="rag",
    # the dbt models rag/chunks.py reads
    deps=[
        "stg_notes__notes",
        "stg_meetings__summaries",
        "stg_meetings__transcripts",
        "stg_telegram__messages",
        "stg_bitrix24__activities",
        "stg_bitrix24__call_transcripts",
        "stg_bitrix24__activity_summaries",
        "stg_enrichment__client_profile_facts",
        "stg_enrichment__interaction_signals",
        "int_wms_weekly",
        "fct_client_daily_activity",
    ],
    kinds={"lancedb"},
    pool="duckdb_write",  # a backup copies the index only when no run writes it
    description=(
        "Поисковый индекс для чата по клиенту (LanceDB): фрагменты встреч, переписки, писем, звонков, профиль, "
        "недельные и месячные сводки склада, тон общения — с векторами и полнотекстовым индексом (русская "
        "морфология). Обновляется по изменениям: векторы считаются только для новых и изменённых фрагментов."
    ),
)
def rag_index(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, rag: RagResource
) -> dg.MaterializeResult:
    settings = get_settings()
    with warehouse.connect(read_only=True) as con:
        chunks, by_source = all_chunks(con, settings.timezone)
    index = rag.index()
    embedder = rag.embedder()
    index.table()  # drops a table of another vector size
    existing = index.existing()
    stamp = f"{embedder.name}:{embedder.model}:{embedder.dim}"
    chunks = [
        {**c, "content_hash": hashlib.sha256(f"{stamp}|{c['content_hash']}".encode()).hexdigest()} for c in chunks
    ]
    todo = [c for c in chunks if existing.get(c["chunk_id"]) != c["content_hash"]]
    gone = sorted(set(existing) - {c["chunk_id"] for c in chunks})
    for i in range(0, len(todo), EMBED_BATCH):
        batch = todo[i : i + EMBED_BATCH]
        vectors = embedder.embed([f"{c['title']}\n{c['text']}" for c in batch])
        index.upsert([{**c, "vector": v.tolist()} for c, v in zip(batch, vectors, strict=True)])
    if gone:
        index.delete(gone)
    index.ensure_indices(changed=bool(todo or gone))
    usage = embedder.usage.snapshot()
    return dg.MaterializeResult(
        metadata={
            "фрагментов в индексе": index.count(),
            "добавлено или изменено": len(todo),
            "удалено": len(gone),
            "без изменений": len(chunks) - len(todo),
            "по источникам": dg.MetadataValue.json(by_source),
            "эмбеддинги": f"{embedder.name}, размерность {embedder.dim}",
            "токенов на эмбеддинги": usage["prompt_tokens"],
            "из кэша": usage["cache_hits"],
        }
    )
