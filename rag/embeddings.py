"""Text embeddings behind one interface: GLM `embedding-3` (batched, cached by content hash) or a local one.

The local provider needs no key and no model download: Russian word stems and character trigrams hashed into a
fixed number of dimensions (signed feature hashing, log term frequency, L2-normalised). It finds passages that
share words and word forms with the question — a fallback for offline use, not a semantic model.
`build_embedder` picks the one C360_EMBED_PROVIDER names.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import zlib
from pathlib import Path
from typing import Protocol

import numpy as np

from config.private import private_file
from config.settings import Settings
from connectors.http import with_retries
from connectors.llm.base import LLMError, LLMUsage, OnceNotice
from connectors.llm.glm import glm_error
from connectors.redact import register

_WORD = re.compile(r"[a-zа-яё0-9]+", re.I)
# longest first: the stem keeps what is shared by «доставка», «доставку», «доставки», «доставкой»
_ENDINGS = sorted(
    """ами ями ого его ому ему ыми ими ее ие ые ое ой ей ий ый ая яя ую юю ом ем ам ям ах ях ов ев ью ия
    ию ия ть ти ла ло ли ет ит ут ют ат ят ешь ишь ем им ете ите а я о е ы и у ю ь""".split(),
    key=len,
    reverse=True,
)
STOP_WORDS = frozenset(
    """и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот от меня
    еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж вам ведь там
    потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже
    себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы нее
    сейчас были куда зачем всех никогда можно при наконец два об другой хоть после над больше тот через эти нас про
    всего них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой им
    более всегда конечно всю между клиент клиента клиенту""".split()
)


def stem(word: str) -> str:
    word = word.lower().replace("ё", "е")
    if len(word) <= 4 or not re.match("[а-я]", word):
        return word
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


def terms(text: str) -> list[str]:
    """Stems of the meaningful words (what full-text search and the extractive answerer match on)."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


class Embedder(Protocol):
    name: str
    dim: int
    usage: LLMUsage

    def embed(self, texts: list[str]) -> np.ndarray: ...


class LocalEmbedder:
    name = "local"

    def __init__(self, dim: int = 1024):
        self.dim = dim
        self.usage = LLMUsage()
        self._features: dict[str, tuple[int, float]] = {}

    def _feature(self, f: str) -> tuple[int, float]:
        hit = self._features.get(f)
        if hit is None:
            h = zlib.crc32(f.encode("utf-8"))
            hit = self._features[f] = (h % self.dim, 1.0 if (h >> 20) & 1 else -1.0)
            if len(self._features) > 2_000_000:
                self._features.clear()
        return hit

    def vector(self, text: str) -> np.ndarray:
        stems = terms(text)
        feats = [*stems]
        for s in stems:  # trigrams of the stem: typos and compound forms still meet
            padded = f"#{s}#"
            feats.extend("3:" + padded[i : i + 3] for i in range(len(padded) - 2))
        if not feats:
            return np.zeros(self.dim, dtype=np.float32)
        idx, sign = zip(*(self._feature(f) for f in feats), strict=True)
        weights = np.array(sign, dtype=np.float32)
        weights[: len(stems)] *= 2.0  # whole words count more than their trigrams
        v = np.bincount(np.array(idx), weights=weights, minlength=self.dim).astype(np.float32)
        v = np.sign(v) * np.log1p(np.abs(v))
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vector(t) for t in texts]) if texts else np.zeros((0, self.dim), dtype=np.float32)


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
