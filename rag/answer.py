"""Ask about one client: retrieve passages (hybrid, always filtered by client_id, optional period from the
question, recency-aware), answer in Russian with [n] citations — GLM (streaming, may call warehouse tools) or
extractive offline — or say plainly that it is not in the data.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from connectors.llm import prompts
from connectors.llm.base import LLMClient, LLMError, assistant_turn
from connectors.llm.summaries import ACTION_SECTIONS
from rag.chunks import tone_figures
from rag.citations import Answer, Citation, Passage, citation_label
from rag.embeddings import Embedder, LocalEmbedder, build_embedder
from rag.index import Hit, RagIndex, profile_kind, window_of
from rag.retrieval import (
    NUMERIC_RE,
    PROFILE_ABOUT,
    PROMISE_WORDS,
    RECENCY_HALF_LIFE_DAYS,
    YEAR_RE,
    asks_figures,
    asks_promises,
    asks_tone,
    asks_tone_change,
    channel,
    key_terms,
    latest_kind,
    named_besides,
    overlap,
    parse_period,
    profile_kinds,
)
from rag.text import places_named, terms
from rag.tools import WarehouseTools
from warehouse.refs import KINDS

TOOLS_RE = re.compile(
    r"сколько|объ[её]м|отгруз|остат|резерв|постав|вывез|тон|настроени|тревог|риск|профил|динамик", re.I
)
_SPLIT = re.compile(r"(?<=[.!?…])\s+|\n")
_TIME_MARK = re.compile(r"^\[\d+:\d{2}(?::\d{2})?\]\s*")
_REF_IN_TEXT = re.compile(r"\b(?:" + "|".join(sorted(KINDS, key=len, reverse=True)) + r"):\S")

# How a passage's best sentence is scored: cosine of the question's and the sentence's word-vector meanings plus
# LEX_WEIGHT × the share of the question's content lemmas the sentence (or its passage's title) holds; the quotes are
# the sentences within QUOTE_MARGIN of the best. The data answers a question when a retrieved passage holds at least
# FOUND_LEXICAL of its content lemmas or a sentence as near in meaning as FOUND_MEANING. Measured on the calibration
# half of `client360 eval-rag` (demo of 02.12.2026, 142 answerable and 44 absent questions without an intent):
# lexical ≥ 0.5 or meaning ≥ 0.5 answers 30 % of the answerable and refuses 86 % of the absent; lowering the meaning
# bar to 0.4 answers 32 % and refuses only 66 % — word vectors do not separate a paraphrase from an unrelated
# question well enough to go lower.
LEX_WEIGHT = 0.5
FOUND_LEXICAL = 0.5
FOUND_MEANING = 0.5
QUOTE_MARGIN = 0.12
INTENT_BONUS = 1.0  # the items an intent names (the latest meeting, the tone by month) come first
STATEMENT_KINDS = {"pains", "conflicts", "volumes"}  # profile kinds quoted where they were said
PROMISE_MEETINGS = 3  # the newest meetings whose agreements answer «что мы обещали?»
PROFILE_FACTS = 6  # the newest facts of a profile kind the question asks about, ranked by the question
TONE_STEP = 0.1  # a change of the mean sentiment (−1…+1) smaller than this is «почти не изменился»


def sentences(text: str) -> list[str]:
    """The sentences of a passage a person can read as a quote (not our own lists of references)."""
    out = []
    for line in _SPLIT.split(text or ""):
        line = _TIME_MARK.sub("", line.strip()).lstrip("-— ").strip()
        if len(line) >= 3 and not _REF_IN_TEXT.search(line):
            out.append(line[:300])
    return out


def _unknown_specifics(question: str, start, end, hits: list[Hit]) -> bool:
    """The question names a year that is neither its period nor written in any of the passages, or a place none of
    them speaks of («склад в Казани», «доставка в Беларусь»): other passages do not answer it."""
    covered = set(range(start.year, (end - timedelta(microseconds=1)).year + 1)) if start and end else set()
    said = " ".join(f"{h.title or ''} {h.text}" for h in hits)
    if any(int(y) not in covered and y not in said for y in YEAR_RE.findall(question)):
        return True
    places = places_named(question)
    return bool(places) and not places <= set(terms(said))


def _tone_change(scored: list[Scored], passages: list[Passage]) -> str | None:
    """«Тон: ноябрь 2026 → декабрь 2026 — стал хуже …» from the two months' tone passages the intent put first."""
    months = [(p, tone_figures(p.text)) for p, s in zip(passages, scored, strict=True) if p.source == "tone"]
    months = [(p, f) for p, f in months if f and scored[p.n - 1].hit.score >= INTENT_BONUS][:2]
    if len(months) < 2:
        return None
    (new, (after, _, complaints_after)), (old, (before, _, complaints_before)) = months
    delta = after - before
    how = "стал теплее" if delta >= TONE_STEP else "стал хуже" if delta <= -TONE_STEP else "почти не изменился"
    name = lambda p: (p.title or "").removeprefix("Тон общения за ").strip()  # noqa: E731
    return (
        f"Тон: {name(old)} → {name(new)} — {how} (средняя оценка настроения {before:+.2f} → {after:+.2f}, "
        f"контактов с жалобами или конфликтом {complaints_before} → {complaints_after}) [{old.n}][{new.n}]"
    )


def _actions(summary: Hit) -> Hit:
    """A meeting summary cut to what was agreed: its «Договорённости» and «Следующие шаги» lines."""
    keep, lines = False, []
    for line in summary.text.splitlines():
        if line.endswith(":") and not line.startswith("-"):
            keep = line[:-1] in ACTION_SECTIONS
        elif keep and line.startswith("-"):
            lines.append(line)
    return dataclasses.replace(summary, text="\n".join(lines))


def _statement(fact: Hit) -> bool:
    """A profile fact that is a sentence someone said (a pain, a conflict, a volume), not a tally of the data."""
    return profile_kind(fact) in STATEMENT_KINDS


@dataclass
class Scored:
    hit: Hit
    evidence: float  # the best sentence's score
    sentence: str
    lexical: float = 0.0  # share of the question's content lemmas in the passage (title included)
    meaning: float = 0.0  # the best sentence's cosine to the question


class ClientQA:
    def __init__(self, index: RagIndex, embedder: Embedder, llm: LLMClient, tools=None, k: int = 8, meaning=None):
        self.index, self.embedder, self.llm, self.tools, self.k = index, embedder, llm, tools, k
        # sentences are compared by the local word vectors whatever embeds the index: free, no call per question
        self.meaning = meaning if meaning is not None else (embedder if embedder.name == "local" else LocalEmbedder())

    def _intent_hits(self, client_id: str, question: str, start, end) -> list[Hit]:
        """The passages the question's intent names, best first: the latest item of a kind, the items of a kind in
        the period, the tone by month, the warehouse figures of the period."""
        out: list[Hit] = []
        latest, kinds, kinds_about = latest_kind(question), channel(question), profile_kinds(question)
        contact = latest or (kinds if kinds and (start or end) else ())
        tone, promises = asks_tone(question), asks_promises(question) and not latest
        figures = asks_figures(question) and bool(start or end)
        wanted = {
            *contact,
            *(["tone"] if tone else []),
            *(["profile"] if kinds_about else []),
            *(["meeting_summary"] if promises else []),
            *(["wms"] if figures else []),
        }
        # one query for the intents read within the period (each index query costs more than the rows it brings);
        # the tone is read over every month
        periodic = tuple(sorted(wanted - {"tone"}))
        within = self.index.passages(client_id, source=periodic, start=start, end=end) if periodic else []
        of = lambda *sources: [h for h in within if h.source in sources]  # noqa: E731
        if contact:
            items = of(*contact)
            newest = sorted({(h.occurred_at or datetime.min, h.source_ref) for h in items}, reverse=True)
            refs = [ref for _, ref in newest[: 1 if latest else 3]]
            out = sorted(
                (h for h in items if h.source_ref in refs),
                key=lambda h: (refs.index(h.source_ref), h.source != "meeting_summary", window_of(h)),
            )
        if tone:
            months = sorted(self.index.passages(client_id, source="tone"), key=lambda h: h.occurred_at or datetime.min)
            if asks_tone_change(question):
                out += months[-2:][::-1]
            else:
                inside = [h for h in months if h.occurred_at and (not start or h.occurred_at >= start)]
                out += (inside if start or end else months)[-1:]
        if kinds_about:
            facts = [h for h in of("profile") if profile_kind(h) in kinds_about]
            facts.sort(key=lambda h: h.occurred_at or datetime.min, reverse=True)
            facts = facts[:PROFILE_FACTS]
            said = [h for h in facts if not _statement(h)] + self._said(client_id, [h for h in facts if _statement(h)])
            named = named_besides(question, PROFILE_ABOUT)
            if said and (not named or overlap(named, " ".join(f"{h.title} {h.text}" for h in said)) >= FOUND_LEXICAL):
                out += said
        if promises:
            agreed = [_actions(h) for h in of("meeting_summary")[::-1][:PROMISE_MEETINGS]]
            named = named_besides(question, PROMISE_WORDS)
            agreed = [h for h in agreed if h.text]
            if agreed and (not named or overlap(named, " ".join(h.text for h in agreed)) >= FOUND_LEXICAL):
                out += agreed
        if figures:
            days = ((end or start) - (start or end)).days if start and end else 0
            # the figures that cover the period asked: the month for a month, the week for a week
            prefix = "wms_month:" if days >= 28 else "wms_week:"
            out += sorted(
                of("wms"), key=lambda h: (not h.source_ref.startswith(prefix), h.occurred_at or datetime.min)
            )[:2]
        return out

    def _said(self, client_id: str, facts: list[Hit]) -> list[Hit]:
        """Where each profile fact was said: the window of its meeting, e-mail, call or chat day that holds it (the
        fact itself when its source is not in the index)."""
        out: list[Hit] = []
        refs = [f.deep_ref for f in facts if f.deep_ref and not f.deep_ref.startswith("telegram_day:")]
        originals = [h for h in self.index.passages(client_id, source_ref=refs) if h.source != "meeting_summary"]
        for fact in facts:
            ref = fact.deep_ref or ""
            if ref.startswith("telegram_day:"):
                day = datetime.fromisoformat(ref.rpartition(":")[2])
                windows = self.index.passages(client_id, source="telegram", start=day, end=day + timedelta(days=1))
            else:
                windows = [h for h in originals if h.source_ref == ref]
            value = fact.text.partition(": ")[2]
            said = terms(value)
            best = max(windows, key=lambda h: overlap(said, h.text), default=fact)
            if best.chunk_id not in {h.chunk_id for h in out}:
                best.quote = value
                out.append(best)
        return out

    def retrieve(self, client_id: str, question: str, today: date) -> tuple[list[Scored], tuple, bool]:
        """The client's passages for the question, best first, each with its best sentence; and whether the data
        answers it at all."""
        start, end = parse_period(question, today)
        qt = key_terms(question)
        vector = self.embedder.embed([question])[0]
        hits = self.index.search(client_id, vector, " ".join(qt), start=start, end=end, limit=max(30, self.k * 3))
        intent = self._intent_hits(client_id, question, start, end)
        chosen = {h.chunk_id for h in intent}
        hits = [*intent, *(h for h in hits if h.chunk_id not in chosen and h.client_id == client_id)]
        if not hits:
            return [], (start, end), False
        q = self.meaning.embed([" ".join(qt) or question])[0]
        per_hit = [sentences(h.text) or [h.text[:300]] for h in hits]
        flat = [s for ss in per_hit for s in ss]
        sims = self.meaning.embed(flat) @ q
        now = datetime.combine(today, datetime.min.time()) + timedelta(days=1)
        numeric = bool(NUMERIC_RE.search(question))
        scored, i = [], 0
        for rank, (h, ss) in enumerate(zip(hits, per_hit, strict=True)):
            title = set(terms(h.title or ""))
            best, best_s, lexical, meaning = -1.0, ss[0], 0.0, -1.0
            for s, sim in zip(ss, sims[i : i + len(ss)], strict=True):
                have = title | set(terms(s))
                lex = sum(t in have for t in qt) / len(qt) if qt else 0.0
                value = float(sim) + LEX_WEIGHT * lex
                lexical, meaning = max(lexical, lex), max(meaning, float(sim))
                if value > best:
                    best, best_s = value, s
            i += len(ss)
            if h.quote:  # the fact the intent found here is the quote, whatever the question's wording
                best_s = max(ss, key=lambda s, fact=terms(h.quote): overlap(fact, s))
            age = max(0.0, (now - h.occurred_at).total_seconds() / 86400) if h.occurred_at else 365.0
            order = best * (1 + 0.1 * math.exp(-age / RECENCY_HALF_LIFE_DAYS)) + 0.05 / (1 + rank)
            if numeric and h.source == "wms":  # «сколько отгрузил» is answered by the warehouse figures
                order += 0.1
            if h.chunk_id in chosen:
                order += INTENT_BONUS
            h.score = order
            scored.append(Scored(h, best, best_s, lexical, meaning))
        scored.sort(key=lambda s: -s.hit.score)
        found = bool(chosen) or any(s.lexical >= FOUND_LEXICAL or s.meaning >= FOUND_MEANING for s in scored)
        if found and _unknown_specifics(question, start, end, [s.hit for s in scored[: self.k]]):
            found = False  # «скидка на 2027 год», «склад в Казани»: what no passage speaks of is not answered
        return scored[: self.k], (start, end), found

    def ask(self, client_id: str, question: str, today: date | None = None) -> Iterator[str | Answer]:
        """Yields pieces of the answer text as they come, then the finished Answer."""
        if today is None:
            from config.settings import get_settings

            today = get_settings().today()
        scored, (start, end), found = self.retrieve(client_id, question, today)
        answer = Answer(
            question,
            client_id,
            provider=f"{self.llm.name}",
            period=[start.date().isoformat() if start else None, end.date().isoformat() if end else None],
            retrieved=[s.hit.chunk_id for s in scored],
        )
        passages = [
            Passage(i, h.source, h.source_ref, h.deep_ref, h.occurred_at, h.title or "", h.text)
            for i, h in enumerate((s.hit for s in scored), 1)
        ]
        if self.llm.offline:
            yield from self._extractive(answer, scored, passages, found)
        else:
            yield from self._generative(answer, client_id, question, today, passages)
        yield answer

    def _extractive(self, answer: Answer, scored: list[Scored], passages: list[Passage], found: bool) -> Iterator[str]:
        if not found or not scored:
            answer.found, answer.text = False, prompts.NOT_IN_DATA
            yield answer.text
            return
        best = max(s.evidence for s in scored)
        lines, seen_sources, seen_sentences, quotes = [prompts.OFFLINE_ANSWER_NOTE], set(), set(), {}
        if change := _tone_change(scored, passages):
            lines.append(change)
        q = answer.question
        # the latest item of a kind, or a kind's items in the period: those items are the answer, not what ranks near
        named = bool(latest_kind(q) or (channel(q) and any(answer.period))) and scored[0].hit.score >= INTENT_BONUS
        for p, s in zip(passages, scored, strict=True):
            intent = s.hit.score >= INTENT_BONUS
            if (named and not intent) or (not intent and s.evidence < best - QUOTE_MARGIN):
                continue
            key = " ".join(terms(s.sentence))
            if s.hit.source_ref in seen_sources or key in seen_sentences:
                continue
            seen_sources.add(s.hit.source_ref)
            seen_sentences.add(key)
            label = citation_label(p.source, p.source_ref, p.occurred_at, p.title, p.deep_ref)
            lines.append(f"— {label}: «{s.sentence}» [{p.n}]")
            quotes[p.n] = s.sentence
            if len(lines) > 3:
                break
        answer.text = "\n".join(lines)
        answer.citations = self._cite(answer.text, passages, quotes)
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
        answer.citations = self._cite(answer.text, passages)

    @staticmethod
    def _cite(text: str, passages: list[Passage], quotes: dict[int, str] | None = None) -> list[Citation]:
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
                (quotes or {}).get(n) or (sentences(by_n[n].text) or [by_n[n].text[:300]])[0],
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
