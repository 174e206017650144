"""The RAG index at scale: 1M synthetic chunks of about 1,000 characters over 1,000 clients, the local embedder
(navec word vectors, 300 d).

Prints ingest throughput (embedding + writing; target ≥ 5,000 chunks/s), index build time, index size on disk,
p50/p95 of embedding one question (target ≤ 5 ms), p50/p95 latency of the client-filtered hybrid retrieval (vector +
Russian full-text, RRF) over 1,000 questions — the search alone and the whole `retrieve` (question embedding, period
parsing, rerank; target p95 ≤ 150 ms) — and the cost of an incremental update of 1,000 new chunks (embed, merge,
fold into the indices).
Run: .venv/bin/python bench/bench_rag.py [chunks] [clients]
"""

import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.llm.offline import OfflineLLM  # noqa: E402
from rag.answer import ClientQA  # noqa: E402
from rag.embeddings import LocalEmbedder  # noqa: E402
from rag.index import RagIndex, schema  # noqa: E402

BATCH = 50_000
CHUNK_CHARS = 1000
PHRASES = [
    "пересорт по двум артикулам на Wildberries",
    "задержали приёмку поставки на Ozon",
    "штраф за опоздание поставки",
    "просим ускорить отгрузку FBS",
    "тарифы на хранение выросли",
    "возвраты обрабатываются слишком долго",
    "нужна маркировка Честный знак",
    "прислать акт сверки до пятницы",
    "подготовить расчёт скидки на хранение",
    "новая коллекция к распродаже четыре тысячи единиц",
    "фотосъёмка новых товаров",
    "упаковка в пакеты с клапаном",
    "зарезервировать окно приёмки на вторник",
    "отгрузка на Яндекс Маркет по схеме FBO",
    "остаток на складе тает",
    "думаем перейти в другой фулфилмент",
    "спасибо, всё получили вовремя",
    "вторая смена сборки с понедельника",
    "счёт за хранение за октябрь",
    "паллеты приняты без расхождений",
    "сверка остатков по складу",
]
QUESTIONS = [
    "что говорили про пересорт?",
    "были ли проблемы с приёмкой на Ozon?",
    "что обещали прислать?",
    "сколько единиц в новой коллекции?",
    "жаловался ли на тарифы хранения?",
    "что с возвратами за последний месяц?",
    "нужна ли маркировка?",
    "угрожал ли уйти к другому фулфилменту?",
    "что с отгрузками FBS в октябре?",
]


def synthetic(n: int, clients: int, start_id: int, rng: random.Random, end: datetime) -> list[dict]:
    rows = []
    for i in range(start_id, start_id + n):
        client = str(10000 + i % clients)
        parts = []
        while sum(len(p) + 2 for p in parts) < CHUNK_CHARS:
            parts.append(rng.choice(PHRASES) if rng.random() < 0.8 else f"Заказ {rng.randint(1000, 99999)}")
        text = ". ".join(parts) + "."
        at = end - timedelta(minutes=rng.randint(0, 730 * 24 * 60))
        rows.append(
            {
                "chunk_id": f"telegram:{client}:{i}#0",
                "client_id": client,
                "source": "telegram",
                "source_ref": f"telegram:{client}:{i}",
                "deep_ref": f"telegram:{client}:{i}-{i}",
                "occurred_at": at,
                "author": "Клиент",
                "title": f"Telegram, {at:%d.%m.%Y}",
                "text": text,
                "content_hash": str(i),
            }
        )
    return rows


def to_table(rows: list[dict], vectors: np.ndarray, dim: int) -> pa.Table:
    rows = [{**r, "search_text": f"{r['title']}\n{r['text']}"} for r in rows]  # as RagIndex.upsert writes it
    columns = {f.name: [r[f.name] for r in rows] for f in schema(dim) if f.name != "vector"}
    vec = pa.FixedSizeListArray.from_arrays(pa.array(vectors.astype(np.float32).ravel()), dim)
    return pa.Table.from_pydict({**columns, "vector": vec}, schema=schema(dim))


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.array(values) * 1000, p))


def main(total: int = 1_000_000, clients: int = 1000) -> None:
    work = Path(tempfile.mkdtemp(prefix="c360-bench-rag-"))
    embedder, rng = LocalEmbedder(), random.Random(1)
    index = RagIndex(work / "rag", embedder.dim)
    end = datetime.combine(date.today(), datetime.min.time())
    tbl = index.table()

    t_embed = t_write = 0.0
    for start in range(0, total, BATCH):
        rows = synthetic(min(BATCH, total - start), clients, start, rng, end)
        t0 = time.perf_counter()
        vectors = embedder.embed([f"{r['title']}\n{r['text']}" for r in rows])
        t1 = time.perf_counter()
        tbl.add(to_table(rows, vectors, embedder.dim))
        t_embed, t_write = t_embed + t1 - t0, t_write + time.perf_counter() - t1
        print(f"  {start + len(rows):>9,} chunks: embed {t_embed:6.1f} s, write {t_write:6.1f} s", flush=True)
    t0 = time.perf_counter()
    index.ensure_indices(changed=False)
    t_index = time.perf_counter() - t0
    size = subprocess.run(["du", "-sm", str(work / "rag")], capture_output=True, text=True).stdout.split()[0]
    print(
        f"ingest: {total:,} chunks in {t_embed + t_write:.0f} s ({total / (t_embed + t_write):,.0f} chunks/s; "
        f"embedding {t_embed:.0f} s, writing {t_write:.0f} s); indices (full-text, client_id) {t_index:.0f} s; "
        f"size on disk {size} MB"
    )

    engine = ClientQA(index, embedder, OfflineLLM())
    search_s, retrieve_s, embed_s = [], [], []
    for _ in range(1000):
        client, question = str(10000 + rng.randrange(clients)), rng.choice(QUESTIONS)
        t0 = time.perf_counter()
        vector = embedder.embed([question])[0]
        embed_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        hits = index.search(client, vector, question, limit=24)
        search_s.append(time.perf_counter() - t0)
        assert all(h.client_id == client for h in hits)
        t0 = time.perf_counter()
        engine.retrieve(client, question, date.today())
        retrieve_s.append(time.perf_counter() - t0)
    print(f"question embedding, 1,000 questions: p50 {pct(embed_s, 50):.2f} ms, p95 {pct(embed_s, 95):.2f} ms")
    print(
        f"filtered hybrid search, 1,000 questions: p50 {pct(search_s, 50):.1f} ms, p95 {pct(search_s, 95):.1f} ms; "
        f"whole retrieve (embed + period + rerank): p50 {pct(retrieve_s, 50):.1f} ms, "
        f"p95 {pct(retrieve_s, 95):.1f} ms"
    )

    rows = synthetic(1000, clients, total, rng, end + timedelta(days=1))
    t0 = time.perf_counter()
    vectors = embedder.embed([f"{r['title']}\n{r['text']}" for r in rows])
    t1 = time.perf_counter()
    index.upsert([{**r, "vector": v.tolist()} for r, v in zip(rows, vectors, strict=True)])
    t2 = time.perf_counter()
    index.ensure_indices(changed=True)
    t3 = time.perf_counter()
    print(
        f"incremental update, 1,000 new chunks: embed {t1 - t0:.2f} s, merge {t2 - t1:.2f} s, "
        f"fold into indices {t3 - t2:.1f} s, total {t3 - t0:.1f} s"
    )
    hits = index.search(rows[0]["client_id"], vectors[0], rows[0]["text"], limit=50)
    print(f"a new chunk is found right after the update: {rows[0]['chunk_id'] in {h.chunk_id for h in hits}}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
