"""A day of chat with one client, summarized: GLM (cached) or extractive offline."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from connectors.llm import intent as leaving
from connectors.llm import offline as ext
from connectors.llm import prompts
from connectors.llm.base import LLMClient, parse_answer
from connectors.llm.summaries import chunk_lines

TONES = ("позитивный", "нейтральный", "негативный")
_REQUEST_RE = re.compile(r"\?|нужн|можно ли|прошу|подскажите|просим|пришлите|когда будет", re.I)


class ChatDaySummary(BaseModel):
    summary: str = ""
    topics: list[str] = Field(default_factory=list)
    requests: list[str] = Field(default_factory=list)
    complaints: list[str] = Field(default_factory=list)
    promises: list[str] = Field(default_factory=list)
    tone: str = "нейтральный"
    generated_by: str = ""
    extractive: bool = False

    @field_validator("topics", "requests", "complaints", "promises", mode="before")
    @classmethod
    def _strings(cls, value):
        return [str(v) for v in (value or []) if v]

    @field_validator("tone", mode="before")
    @classmethod
    def _tone(cls, value):
        value = str(value or "").strip().lower()
        return next((t for t in TONES if value.startswith(t[:5])), "нейтральный")

    def as_text(self) -> str:
        lines = [self.summary] if self.summary else []
        for title, items in (
            ("Просьбы клиента", self.requests),
            ("Жалобы", self.complaints),
            ("Наши обещания", self.promises),
        ):
            if items:
                lines.append(f"{title}: " + "; ".join(items))
        lines.append(f"Тон: {self.tone}")
        if self.extractive:
            lines.append(f"({ext.OFFLINE_LABEL})")
        return "\n".join(lines)


def chat_line(message: dict) -> str:
    who = "мы" if message["direction"] == "staff" else "клиент"
    media = f" [{message['media_kind']}]" if message.get("media_kind") else ""
    name = prompts.speaker(message.get("sender_name")) or "?"
    return f"[{message['local_time']:%H:%M}] {name} ({who}): {prompts.continued(message.get('text'))}{media}"


def summarize_chat_day(
    llm: LLMClient, messages: list[dict], *, client: str, day: str, max_chars: int = 60000
) -> ChatDaySummary:
    """`messages`: rows with direction, sender_name, text, media_kind and local_time (in the team's timezone)."""
    if llm.offline:
        return extractive_chat_summary(messages)
    # a day of chat is short; should it not be, the most recent part is what matters for the report
    text = chunk_lines([chat_line(m) for m in messages], max_chars)[-1]
    answer = llm.complete(
        prompts.CHAT_DAY_SYSTEM,
        prompts.CHAT_DAY_USER.format(
            about=prompts.fence(fields={"Клиент": client, "День": day}), messages=prompts.fence(text)
        ),
        json_mode=True,
    )
    summary = parse_answer(answer, ChatDaySummary, "сводка чата")
    summary.generated_by = f"{llm.name}:{llm.model}"
    return summary


def extractive_chat_summary(messages: list[dict]) -> ChatDaySummary:
    def sentences(direction: str) -> list[str]:
        return [s for m in messages if m["direction"] == direction for s in ext.sentences(m.get("text") or "")]

    client_said, staff_said = sentences("client"), sentences("staff")
    # the client's words about leaving us first: the day's summary is what its interaction signals are read from
    intent = [q for m in messages if m["direction"] == "client" for q in leaving.leaving_intent(m.get("text") or "")]
    complaints = list(dict.fromkeys([*intent, *(s for s in client_said if ext.RISK_RE.search(s))]))[:5]
    requests = list(dict.fromkeys(s for s in client_said if _REQUEST_RE.search(s) and s not in complaints))[:5]
    promised = (s for s in staff_said if ext.NEXT_STEP_RE.search(s) or ext.AGREEMENT_RE.search(s))
    promises = list(dict.fromkeys(promised))[:5]
    ranked = ext.rank_sentences(client_said + staff_said, 1)
    n_client = sum(1 for m in messages if m["direction"] == "client")
    n_staff = sum(1 for m in messages if m["direction"] == "staff")
    summary = f"Сообщений: от клиента {n_client}, от нас {n_staff}."
    if ranked:
        summary += f" Главное: {ranked[0]}"
    tone = "негативный" if len(complaints) >= 2 else ("нейтральный" if complaints else "позитивный")
    return ChatDaySummary(
        summary=summary,
        requests=requests,
        complaints=complaints,
        promises=promises,
        tone=tone,
        generated_by="offline:extractive",
        extractive=True,
    )
