"""Text embeddings behind one interface: GLM `embedding-3` (batched, cached by content hash) or a local one.

The local provider needs no key and no download: Russian word vectors (navec, shipped inside the natasha wheel)
averaged with SIF weights — it knows that «претензия» and «жалоба» are near in meaning. `build_embedder` picks the
one C360_EMBED_PROVIDER names.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import sqlite3
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from config.private import private_file
from config.settings import Settings
from connectors.http import with_retries
from connectors.llm.base import LLMError, LLMUsage, OnceNotice
from connectors.llm.glm import glm_error
from connectors.redact import register
from rag.text import STOP_WORDS, lemma, tokens

NAVEC_FILE = "navec_news_v1_1B_250K_300d_100q"  # natasha's news vectors: 250k words, 300 d, 1B-word corpus
LOCAL_DIM = 300
SIF_A = 1e-3  # the smooth inverse frequency constant of Arora et al. (2017), their recommended value


class Embedder(Protocol):
    name: str
    model: str
    dim: int
    usage: LLMUsage

    def embed(self, texts: list[str]) -> np.ndarray: ...


def navec_path() -> Path:
    # the file natasha ships; found without importing natasha (it loads its NER models on import)
    spec = importlib.util.find_spec("natasha")
    if spec is None or not spec.submodule_search_locations:
        raise LLMError("локальные эмбеддинги: не установлен пакет natasha (векторы слов navec); выполните make setup")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "emb" / f"{NAVEC_FILE}.tar"


class _WordVectors:
    """navec's product-quantised vectors with SIF weights from the corpus counts it ships, decoded once per word."""

    def __init__(self, path: Path):
        from navec import Navec

        navec = Navec.load(str(path))
        self.ids: dict[str, int] = navec.vocab.word_ids
        counts = np.asarray(navec.vocab.counts, dtype=np.float64)
        self.weight = (SIF_A / (SIF_A + counts / counts.sum())).astype(np.float32)
        for special in (navec.vocab.unk_id, navec.vocab.pad_id):
            if special is not None:
                self.weight[special] = 0.0
        pq = navec.pq
        self.codes, self.indexes, self.qdims = pq.codes, pq.indexes, np.arange(pq.qdim)
        # zero pages cost no memory until a word's row is decoded into them
        self.decoded = np.zeros((pq.vectors, pq.dim), dtype=np.float32)
        self.done = np.zeros(pq.vectors, dtype=bool)
        self.lock = threading.Lock()
        self.forms = _WordIds(self.ids)  # shared by every embedder of the process

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        todo = ids[~self.done[ids]]
        if todo.size:
            with self.lock:
                self.decoded[todo] = self.codes[self.qdims, self.indexes[todo]].reshape(todo.size, -1)
                self.done[todo] = True
        return self.decoded[ids]


_vectors: _WordVectors | None = None
_vectors_lock = threading.Lock()


def word_vectors() -> _WordVectors:
    """The one copy per process (loaded in about half a second on first use)."""
    global _vectors
    if _vectors is None:
        with _vectors_lock:
            if _vectors is None:
                _vectors = _WordVectors(navec_path())
    return _vectors


class _WordIds(dict):
    """word form → navec id: the form itself, else its lemma; -1 for a stop word or a word navec does not know."""

    def __init__(self, ids: dict[str, int]):
        super().__init__()
        self.vocab = ids

    def __missing__(self, word: str) -> int:
        if word in STOP_WORDS:
            found = -1
        else:
            found = self.vocab.get(word, -1)
            if found < 0:
                found = self.vocab.get(lemma(word), -1)
        if len(self) > 2_000_000:
            self.clear()
        self[word] = found
        return found


class LocalEmbedder:
    """Meaning without a key or a download: the SIF-weighted mean of Russian word vectors (navec), L2-normalised.

    Words that mean alike («претензия», «жалоба», «недоволен») have near vectors, so a passage is found by a
    question worded differently. A word navec does not know (numbers, rare brands) adds nothing here: full-text
    search matches it.
    """

    name = "local"
    model = f"{NAVEC_FILE}+sif"

    def __init__(self, dim: int = LOCAL_DIM):
        if dim != LOCAL_DIM:
            raise ValueError(
                f"C360_EMBED_DIM={dim}: локальные эмбеддинги (C360_EMBED_PROVIDER=local, векторы navec) имеют "
                f"размерность {LOCAL_DIM}; уберите C360_EMBED_DIM или задайте {LOCAL_DIM}"
            )
        self.dim = dim
        self.usage = LLMUsage()
        self._words = word_vectors()
        self._ids = self._words.forms

    BATCH = 256  # bounds the words × 300 array of one pass

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) > self.BATCH:
            return np.concatenate([self.embed(texts[i : i + self.BATCH]) for i in range(0, len(texts), self.BATCH)])
        look = self._ids.__getitem__
        per_text = [list(map(look, tokens(t))) for t in texts]
        lengths = np.fromiter((len(i) for i in per_text), dtype=np.int64, count=len(per_text))
        ids = np.fromiter(itertools.chain.from_iterable(per_text), dtype=np.int64, count=int(lengths.sum()))
        rows = np.repeat(np.arange(len(texts)), lengths)
        known = ids >= 0
        ids, rows = ids[known], rows[known]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if ids.size:
            # texts × distinct words matrix of SIF weights, times those words' vectors: one BLAS product instead of
            # gathering and summing a 300-d row per word (4-40× faster, bench/bench_rag.py)
            unique, column = np.unique(ids, return_inverse=True)
            weights = np.bincount(
                rows * unique.size + column, weights=self._words.weight[ids], minlength=len(texts) * unique.size
            )
            out = weights.reshape(len(texts), unique.size).astype(np.float32) @ self._words.vectors(unique)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


class VectorCache:
    """SQLite cache of embeddings keyed by (model, dimensions, text hash): a text is embedded once."""

    def __init__(self, path: Path):
        private_file(path)  # client data: the service user's only
        self.path = path
        with sqlite3.connect(path, timeout=30) as db:
            db.execute("pragma journal_mode=wal")
            db.execute("create table if not exists embeddings (key text primary key, vector blob not null)")

    @staticmethod
    def key(model: str, dim: int, text: str) -> str:
        return hashlib.sha256(f"{model}|{dim}|{text}".encode()).hexdigest()

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        out = {}
        with sqlite3.connect(self.path, timeout=30) as db:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for k, blob in db.execute(f"select key, vector from embeddings where key in ({marks})", chunk):
                    out[k] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with sqlite3.connect(self.path, timeout=30) as db:
            db.executemany(
                "insert or replace into embeddings(key, vector) values (?, ?)",
                [(k, v.astype(np.float32).tobytes()) for k, v in items.items()],
            )


class GlmEmbedder:
    """GLM `embedding-3` over the zhipuai SDK: batches of ≤64 texts, our retries, cached by content hash."""

    name = "glm"
    BATCH = 64
    MAX_CHARS = 6000  # ≤3072 tokens per item

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None,
        cache: VectorCache | None,
        model: str = "embedding-3",
        dim: int = 1024,
        timeout: float = 60.0,
        attempts: int = 5,
        base_delay: float = 2.0,
        notice: OnceNotice | None = None,
    ):
        if not api_key:
            raise LLMError("GLM: не задан ZHIPUAI_API_KEY (или выберите C360_EMBED_PROVIDER=local)")
        import httpx  # here: the local embedder (and `client360 ask` with it) needs neither httpx nor the SDK
        from zhipuai import ZhipuAI

        register(api_key)
        self._sdk = ZhipuAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=httpx.Timeout(timeout, connect=10)
        )
        self.model, self.dim, self.cache = model, dim, cache
        self.attempts, self.base_delay = attempts, base_delay
        self.notice = notice  # the account's problems told to the owner once, as the chat client does
        self.usage = LLMUsage()

    def _call(self, batch: list[str]):
        from zhipuai.core import _errors as zerr

        try:
            result = self._sdk.embeddings.create(model=self.model, input=batch, dimensions=self.dim)
        except (zerr.APIConnectionError, zerr.APIStatusError) as exc:
            raise glm_error(exc, self.notice, "GLM (Zhipu) эмбеддинги") from None
        if self.notice is not None:
            self.notice.clear()
        return result

    def embed(self, texts: list[str]) -> np.ndarray:
        texts = [t[: self.MAX_CHARS] for t in texts]
        keys = [VectorCache.key(self.model, self.dim, t) for t in texts]
        found = self.cache.get_many(keys) if self.cache else {}
        for _ in range(sum(k in found for k in keys)):
            self.usage.hit()
        todo = list(dict.fromkeys(k for k in keys if k not in found))
        by_key = dict(zip(keys, texts, strict=True))
        fresh: dict[str, np.ndarray] = {}
        for i in range(0, len(todo), self.BATCH):
            batch = todo[i : i + self.BATCH]
            result = with_retries(
                lambda b=batch: self._call([by_key[k] for k in b]), attempts=self.attempts, base_delay=self.base_delay
            )
            for item in sorted(result.data, key=lambda d: d.index):
                fresh[batch[item.index]] = np.asarray(item.embedding, dtype=np.float32)
            usage = getattr(result, "usage", None)
            self.usage.add(getattr(usage, "prompt_tokens", 0) or 0, 0)
        if self.cache is not None and fresh:
            self.cache.put_many(fresh)
        vectors = {**found, **fresh}
        out = np.stack([vectors[k] for k in keys]) if keys else np.zeros((0, self.dim), dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def dumps_vector(v: np.ndarray) -> str:  # for debugging output only
    return json.dumps([round(float(x), 4) for x in v[:8]])


def build_embedder(settings: Settings) -> Embedder:
    provider = settings.embed_provider.lower()
    if provider == "local":
        return LocalEmbedder(settings.embed_dim)
    if provider == "glm":
        from config.factory import glm_account_notice

        return GlmEmbedder(
            settings.zhipuai_api_key or "",
            base_url=settings.glm_base_url,
            cache=VectorCache(settings.embed_cache_path),
            model=settings.embed_model,
            dim=settings.embed_dim,
            notice=glm_account_notice(settings),
        )
    raise ValueError(f"неизвестный C360_EMBED_PROVIDER={settings.embed_provider!r} (допустимо: glm, local)")
