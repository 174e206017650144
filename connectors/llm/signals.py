"""Signals of one interaction (meeting, chat day, call, e-mail): sentiment, tone, complaints, blockers, promises, the
client's own words about leaving us."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from connectors.llm import intent as leaving
from connectors.llm import offline as ext
from connectors.llm import prompts
from connectors.llm.base import LLMClient, parse_answer
from connectors.llm.chats import TONES
from connectors.llm.profile import ProfileFacts, lexical_facts
from connectors.llm.summaries import Action

_POSITIVE = re.compile(r"спасибо|благодар|отлично|хорошо|доволен|довольн|супер|рады|удобно|быстро", re.I)
_CONFLICT = re.compile(r"уйти|уход|конкурент|расторг|другой фулфилмент|претензи|суд|недопустим|верните", re.I)
_BLOCKER = re.compile(r"не можем|не получается|задерж|висит|стоит|нет места|не приняли|блокир|ждём", re.I)


MAX_QUOTES, MAX_QUOTE = 3, 400  # intent sentences kept per interaction, characters per sentence


class InteractionSignals(BaseModel):
    sentiment: float = 0.0
    tone: str = "нейтральный"
    complaint: bool = False
    conflict: bool = False
    blockers: list[str] = Field(default_factory=list)
    promises: list[Action] = Field(default_factory=list)
    # the client's own sentences (verbatim) saying they consider leaving us: another fulfilment, a move, a competitor's
    # trial, the end of the contract
    leaving_intent: list[str] = Field(default_factory=list)
    facts: ProfileFacts = Field(default_factory=ProfileFacts)  # what the text says about the client's business
    generated_by: str = ""
    extractive: bool = False

    @field_validator("sentiment", mode="before")
    @classmethod
    def _clip(cls, value):
        try:
            return max(-1.0, min(1.0, float(value)))
        except (TypeError, ValueError):
            return 0.0

    @field_validator("tone", mode="before")
    @classmethod
    def _tone(cls, value):
        value = str(value or "").strip().lower()
        return next((t for t in TONES if value.startswith(t[:5])), "нейтральный")

    @field_validator("promises", mode="before")
    @classmethod
    def _promises(cls, value):
        return [{"what": v} if isinstance(v, str) else v for v in (value or []) if v]

    @field_validator("facts", mode="before")
    @classmethod
    def _facts(cls, value):
        return value if isinstance(value, dict | ProfileFacts) else {}

    @field_validator("blockers", mode="before")
    @classmethod
    def _strings(cls, value):
        return [str(v) for v in (value or []) if v]

    @field_validator("leaving_intent", mode="before")
    @classmethod
    def _quotes(cls, value):
        if isinstance(value, str):
            value = [value]
        quotes = (" ".join(str(v).split()).strip(" «»\"'") for v in (value or []) if v)
        return list(dict.fromkeys(q[:MAX_QUOTE] for q in quotes if q))[:MAX_QUOTES]


def analyze_interaction(llm: LLMClient, text: str, *, what: str, client: str) -> InteractionSignals:
    if llm.offline:
        return lexical_signals(text)
    answer = llm.complete(
        prompts.SIGNALS_SYSTEM,
        prompts.SIGNALS_USER.format(
            about=prompts.fence(fields={"Вид": what, "Клиент": client}), text=prompts.fence(text[:20000])
        ),
        json_mode=True,
    )
    signals = parse_answer(answer, InteractionSignals, "сигналы общения")
    signals.generated_by = f"{llm.name}:{llm.model}"
    return signals


def lexical_signals(text: str) -> InteractionSignals:
    """Offline: counts of complaint and praise words, the sentences about leaving us; clearly marked as extractive."""
    sentences = ext.sentences(text)
    intent = leaving.leaving_intent(text, limit=MAX_QUOTES)
    negative = [s for s in sentences if ext.RISK_RE.search(s)]
    negative += [q for q in intent if not ext.RISK_RE.search(q)]  # «будем смотреть другой фулфилмент» is negative
    positive = [s for s in sentences if _POSITIVE.search(s)]
    sentiment = (len(positive) - len(negative)) / (len(positive) + len(negative) + 1)
    tone = "негативный" if sentiment <= -0.25 else ("позитивный" if sentiment >= 0.25 else "нейтральный")
    promises = [Action(what=s, due=ext.due_of(s)) for s in sentences if ext.NEXT_STEP_RE.search(s)][:5]
    return InteractionSignals(
        sentiment=round(sentiment, 3),
        tone=tone,
        complaint=bool(negative),
        conflict=bool(intent) or any(_CONFLICT.search(s) for s in sentences),
        blockers=[s for s in sentences if _BLOCKER.search(s)][:5],
        promises=promises,
        leaving_intent=intent,
        facts=lexical_facts(text),
        generated_by="offline:lexical",
        extractive=True,
    )
