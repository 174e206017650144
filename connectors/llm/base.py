"""LLM plumbing shared by providers: usage accounting and the content-hash response cache."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from config.private import private_file
from connectors.redact import redact

log = logging.getLogger(__name__)


class LLMError(RuntimeError):
    """The model could not produce a usable answer; the message says why (never a secret)."""

    def __init__(self, message: str):
        super().__init__(redact(message))


class OnceNotice:
    """Tells the owner about a standing problem (an account without money) once, not once per call or per run.

    The marker file in the data dir is the episode: created atomically (with its time in it) by the first failing
    call of any process, removed by `clear()` (the service answered again), so the next problem is a new episode.
    `send(key, text)` delivers with a key per episode (`<topic>:<marker's time>`) through the sent-messages ledger,
    which keeps it once across processes and retries (config/delivery.py: a certainly failed send is tried again
    by the next failing call, one whose answer was lost is never resent)."""

    def __init__(self, marker: Path, send: Callable[[str, str], Any]):
        self.marker = marker
        self.send = send
        self._delivered: set[str] = set()  # this process already saw them through: the ledger is not asked again

    def _episode(self) -> str:
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        draft = self.marker.with_name(f"{self.marker.name}.{os.getpid()}.{threading.get_ident()}")
        draft.write_text(json.dumps({"at": at}), encoding="utf-8")
        try:
            os.link(draft, self.marker)  # atomic and complete: another process reads the time or nothing
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
        try:
            return json.loads(self.marker.read_text(encoding="utf-8"))["at"]
        except (OSError, ValueError, KeyError):  # cleared meanwhile (the service answered again)
            return at

    def tell(self, topic: str, text: str) -> bool:
        """True when the notice is delivered (now or before); False when it could not be sent this time."""
        key = f"{topic}:{self._episode()}"
        if key in self._delivered:
            return True
        try:
            self.send(key, text)
        except Exception as exc:  # the call's own error is raised anyway
            log.warning("уведомление владельцу не отправлено: %s", redact(exc))
            return False
        self._delivered.add(key)
        return True

    def clear(self) -> None:
        if self.marker.exists():
            self.marker.unlink(missing_ok=True)
            self._delivered.clear()


def assistant_turn(message) -> dict:
    """The model's tool-calling message as it goes back in the next round: content, tool calls and, for a thinking
    model, its `reasoning_content` (docs.z.ai «Thinking mode»: thinking blocks are returned with the tool results)."""
    turn = {
        "role": "assistant",
        "content": message.content or "",
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in message.tool_calls or []
        ],
    }
    if getattr(message, "reasoning_content", None):
        turn["reasoning_content"] = message.reasoning_content
    return turn


M = TypeVar("M", bound=BaseModel)


def parse_answer(text: str, model: type[M], what: str) -> M:
    """A JSON answer (possibly fenced in ```json) validated against `model`; clear errors otherwise."""
    cleaned = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if start < 0 or end < start:
        raise LLMError(f"модель вернула не JSON: {text[:200]!r}")
    try:
        return model.model_validate(json.loads(cleaned[start : end + 1]))
    except json.JSONDecodeError as exc:
        raise LLMError(f"модель вернула испорченный JSON ({exc}): {text[:200]!r}") from exc
    except ValidationError as exc:
        raise LLMError(f"ответ модели не по схеме ({what}): {exc.errors()[:3]}") from exc


@dataclass
class LLMUsage:
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, prompt: int, completion: int) -> None:
        with self._lock:
            self.calls += 1
            self.prompt_tokens += prompt
            self.completion_tokens += completion

    def hit(self) -> None:
        with self._lock:
            self.cache_hits += 1

    def snapshot(self) -> dict[str, int]:
        return {
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }

    def since(self, before: dict[str, int]) -> dict[str, int]:
        now = self.snapshot()
        return {k: now[k] - before.get(k, 0) for k in now}


class ResponseCache:
    """SQLite cache keyed by a hash of (model, request): the same text is never paid for twice.

    SQLite (not the warehouse) so that any process may read and write it while a run holds DuckDB.
    """

    def __init__(self, path: Path):
        private_file(path)  # client data: the service user's only
        self.path = path
        with self._connect() as db:
            db.execute("pragma journal_mode=wal")
            db.execute(
                "create table if not exists llm_responses ("
                " key text primary key, model text, response text not null,"
                " prompt_tokens integer, completion_tokens integer,"
                " created_at text default (datetime('now')))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    @staticmethod
    def key(model: str, request: dict) -> str:
        payload = json.dumps({"model": model, **request}, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def get(self, key: str) -> str | None:
        with self._connect() as db:
            row = db.execute("select response from llm_responses where key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, model: str, response: str, prompt_tokens: int, completion_tokens: int) -> None:
        with self._connect() as db:
            db.execute(
                "insert or replace into llm_responses(key, model, response, prompt_tokens, completion_tokens)"
                " values (?, ?, ?, ?, ?)",
                (key, model, response, prompt_tokens, completion_tokens),
            )


class LLMClient(Protocol):
    name: str
    model: str
    offline: bool
    usage: LLMUsage

    def complete(self, system: str, user: str, *, json_mode: bool = False) -> str: ...
