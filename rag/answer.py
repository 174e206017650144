"""Ask about one client: retrieve passages (hybrid, always filtered by client_id, optional period from the
question, recency-aware), answer in Russian with [n] citations — GLM (streaming, may call warehouse tools) or
extractive offline — or say plainly that it is not in the data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from connectors.llm import prompts
from connectors.llm.base import LLMClient, LLMError, assistant_turn
from rag.citations import Answer, Citation, Passage
from rag.embeddings import Embedder, build_embedder
from rag.index import Hit, RagIndex
from rag.retrieval import NUMERIC_RE, RECENCY_HALF_LIFE_DAYS, key_terms, overlap, parse_period
from rag.tools import WarehouseTools

TOOLS_RE = re.compile(
    r"сколько|объ[её]м|отгруз|остат|резерв|постав|вывез|тон|настроени|тревог|риск|профил|динамик", re.I
)


def _best_sentences(text: str, question_terms: list[str], limit: int = 2) -> str:
    lines = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n", text) if s.strip()]
    ranked = sorted(lines, key=lambda s: -overlap(question_terms, s))
    chosen = [s for s in ranked[:limit] if overlap(question_terms, s) > 0] or lines[:1]
    return " … ".join(s[:300] for s in chosen)


class ClientQA:
    def __init__(self, index: RagIndex, embedder: Embedder, llm: LLMClient, tools=None, k: int = 8):
        self.index, self.embedder, self.llm, self.tools, self.k = index, embedder, llm, tools, k

    def retrieve(self, client_id: str, question: str, today: date) -> tuple[list[Hit], tuple]:
        start, end = parse_period(question, today)
        vector = self.embedder.embed([question])[0]
        text = " ".join(key_terms(question))
        hits = self.index.search(client_id, vector, text, start=start, end=end, limit=max(30, self.k * 3))
        now = datetime.combine(today, datetime.min.time()) + timedelta(days=1)
        qt = key_terms(question)
        numeric = bool(NUMERIC_RE.search(question))
        for h in hits:
            age = max(0.0, (now - h.occurred_at).total_seconds() / 86400) if h.occurred_at else 365.0
            h.score = h.score * (1 + 0.3 * math.exp(-age / RECENCY_HALF_LIFE_DAYS)) * (1 + overlap(qt, h.text))
            if numeric and h.source == "wms":  # «сколько отгрузил» is answered by the warehouse figures
                h.score *= 1.5
        hits.sort(key=lambda h: -h.score)
        return [h for h in hits if h.client_id == client_id][: self.k], (start, end)

    def ask(self, client_id: str, question: str, today: date | None = None) -> Iterator[str | Answer]:
        """Yields pieces of the answer text as they come, then the finished Answer."""
        if today is None:
            from config.settings import get_settings

            today = get_settings().today()
        hits, (start, end) = self.retrieve(client_id, question, today)
        answer = Answer(
            question,
            client_id,
            provider=f"{self.llm.name}",
            period=[start.date().isoformat() if start else None, end.date().isoformat() if end else None],
            retrieved=[h.chunk_id for h in hits],
        )
        passages = [
            Passage(i, h.source, h.source_ref, h.deep_ref, h.occurred_at, h.title or "", h.text)
            for i, h in enumerate(hits, 1)
        ]
        if self.llm.offline:
            yield from self._extractive(answer, question, passages)
        else:
            yield from self._generative(answer, client_id, question, today, passages)
        yield answer

    def _extractive(self, answer: Answer, question: str, passages: list[Passage]) -> Iterator[str]:
        qt = key_terms(question)
        relevant = [p for p in passages if overlap(qt, p.title + " " + p.text) >= 0.5]
        if not relevant:
            answer.found, answer.text = False, prompts.NOT_IN_DATA
            yield answer.text
            return
        lines = [prompts.OFFLINE_ANSWER_NOTE]
        for p in relevant[:3]:
            lines.append(f"— {p.title}: «{_best_sentences(p.text, qt)}» [{p.n}]")
        answer.text = "\n".join(lines)
        answer.citations = self._cite(answer.text, passages, qt)
        yield answer.text

    def _generative(self, answer, client_id, question, today, passages) -> Iterator[str]:
        messages = [
            {"role": "system", "content": prompts.ANSWER_SYSTEM.format(client=f"лид {client_id}")},
            {
                "role": "user",
                "content": prompts.ANSWER_USER.format(
                    today=f"{today:%d.%m.%Y}",
                    question=prompts.defuse(" ".join(question.split())),
                    passages="\n\n".join(p.render() for p in passages) or prompts.NO_PASSAGES,
                ),
            },
        ]
        if self.tools is not None and TOOLS_RE.search(question) and hasattr(self.llm, "chat"):
            try:
                message = self.llm.chat(messages, tools=self.tools.schemas())
            except LLMError:
                message = None
            calls = getattr(message, "tool_calls", None) or []
            if calls:
                messages.append(assistant_turn(message))  # with the reasoning of a thinking model
                known = {s["function"]["name"] for s in self.tools.schemas()}  # the model's call may name anything
                for call in calls:
                    extra = self.tools.run(
                        client_id, call.function.name, call.function.arguments, first_n=len(passages) + 1
                    )
                    passages.extend(extra)
                    messages.append(
                        {
                            "role": "tool",
                            "tool_call_id": call.id,
                            "content": prompts.TOOL_RESULT.format(
                                name=call.function.name if call.function.name in known else "?",
                                passages="\n\n".join(p.render() for p in extra) or prompts.NO_TOOL_DATA,
                            ),
                        }
                    )
        parts = []
        for delta in self.llm.stream(messages):
            parts.append(delta)
            yield delta
        answer.text = "".join(parts).strip()
        answer.found = prompts.NOT_IN_DATA.rstrip(".").lower() not in answer.text.lower()
        answer.citations = self._cite(answer.text, passages, key_terms(question))

    @staticmethod
    def _cite(text: str, passages: list[Passage], qt: list[str]) -> list[Citation]:
        by_n = {p.n: p for p in passages}
        used = []
        for m in re.finditer(r"\[(\d+)\]", text):
            n = int(m.group(1))
            if n in by_n and n not in used:
                used.append(n)
        return [
            Citation(
                n,
                by_n[n].source,
                by_n[n].source_ref,
                by_n[n].deep_ref,
                by_n[n].occurred_at.isoformat(sep=" ", timespec="minutes") if by_n[n].occurred_at else None,
                by_n[n].title,
                _best_sentences(by_n[n].text, qt, limit=2),
            )
            for n in used
        ]


def build_engine(settings) -> ClientQA:
    """The engine as configured: the index in the data dir, the embeddings and LLM providers, warehouse tools."""
    from config.factory import build_llm

    return ClientQA(
        RagIndex(settings.rag_path, settings.embed_dim),
        build_embedder(settings),
        build_llm(settings),
        tools=WarehouseTools(settings.warehouse_path),
    )
