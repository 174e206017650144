"""Meeting summaries: one structured shape, produced by GLM (map-reduce when long) or extractively offline."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from connectors.llm import intent as leaving
from connectors.llm import offline as ext
from connectors.llm import prompts
from connectors.llm.base import LLMClient, parse_answer
from connectors.stt import Segment

# the sections of a summary's text that hold what was agreed and who does what by when
ACTION_SECTIONS = ("Договорённости", "Следующие шаги")


class Action(BaseModel):
    what: str
    owner: str | None = None
    due: str | None = None


class MeetingSummary(BaseModel):
    topic: str = ""
    participants: list[str] = Field(default_factory=list)
    key_points: list[str] = Field(default_factory=list)
    agreements: list[Action] = Field(default_factory=list)
    next_steps: list[Action] = Field(default_factory=list)
    risks: list[str] = Field(default_factory=list)
    generated_by: str = ""
    extractive: bool = False

    @field_validator("agreements", "next_steps", mode="before")
    @classmethod
    def _actions(cls, value):
        return [{"what": v} if isinstance(v, str) else v for v in (value or []) if v]

    @field_validator("participants", "key_points", "risks", mode="before")
    @classmethod
    def _strings(cls, value):
        return [str(v) for v in (value or []) if v]

    def as_text(self) -> str:
        """Plain Russian text, for search and for the client timeline."""
        lines = [f"Тема: {self.topic}"] if self.topic else []
        if self.participants:
            lines.append("Участники: " + ", ".join(self.participants))
        for title, items in (("Ключевые моменты", self.key_points), ("Риски и недовольство", self.risks)):
            if items:
                lines.append(f"{title}:")
                lines += [f"- {x}" for x in items]
        for title, actions in zip(ACTION_SECTIONS, (self.agreements, self.next_steps), strict=True):
            if actions:
                lines.append(f"{title}:")
                lines += [f"- {format_action(a)}" for a in actions]
        if self.extractive:
            lines.append(f"({ext.OFFLINE_LABEL})")
        return "\n".join(lines)


def format_action(action: Action) -> str:
    extra = ", ".join(x for x in (action.owner, f"срок: {action.due}" if action.due else None) if x)
    return f"{action.what} ({extra})" if extra else action.what


def _summary_from(text: str) -> MeetingSummary:
    return parse_answer(text, MeetingSummary, "резюме")


def chunk_lines(lines: list[str], max_chars: int) -> list[str]:
    chunks, current, size = [], [], 0
    for line in lines:
        if len(line) > max_chars:  # a monologue longer than a chunk: cut it hard
            for i in range(0, len(line), max_chars):
                chunks.append(line[i : i + max_chars])
            continue
        if size + len(line) + 1 > max_chars and current:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        chunks.append("\n".join(current))
    return chunks


def _line(seg: Segment) -> str:
    text = prompts.continued(seg.text)
    return f"{prompts.speaker(seg.speaker)}: {text}" if seg.speaker else text


def summarize_meeting(
    llm: LLMClient,
    segments: list[Segment],
    *,
    client: str,
    when: str = "",
    participants: list[str] | None = None,
    max_chars: int = 60000,
    what: str = "Встреча",
) -> MeetingSummary:
    """A conversation (meeting, phone call, e-mail thread: `what`) → a structured Russian summary."""
    participants = participants or []
    if llm.offline:
        return extractive_summary(segments, participants)
    about = {
        "Вид": what,
        "Клиент": client,
        "Когда": when,
        "Известные участники": ", ".join(participants) or "неизвестны",
    }
    chunks = chunk_lines([_line(s) for s in segments], max_chars)
    if len(chunks) == 1:
        user = prompts.MEETING_USER.format(about=prompts.fence(fields=about), transcript=prompts.fence(chunks[0]))
        summary = _summary_from(llm.complete(prompts.MEETING_SYSTEM, user, json_mode=True))
    else:
        partials = [
            _summary_from(
                llm.complete(
                    prompts.MEETING_SYSTEM,
                    prompts.MEETING_PART_USER.format(
                        part=i, parts=len(chunks), about=prompts.fence(fields=about), transcript=prompts.fence(chunk)
                    ),
                    json_mode=True,
                )
            )
            for i, chunk in enumerate(chunks, 1)
        ]
        summary = _reduce(llm, partials, client=client, when=when, max_chars=max_chars, what=what)
    summary.generated_by = f"{llm.name}:{llm.model}"
    return summary


def _reduce(
    llm: LLMClient, partials: list[MeetingSummary], *, client: str, when: str, max_chars: int, what: str
) -> MeetingSummary:
    docs = [p.model_dump_json(include=set(SUMMARY_FIELDS)) for p in partials]
    groups = chunk_lines(docs, max_chars)
    reduced = [
        _summary_from(
            llm.complete(
                prompts.MEETING_SYSTEM,
                prompts.MEETING_REDUCE_USER.format(
                    about=prompts.fence(fields={"Вид": what, "Клиент": client, "Когда": when}),
                    parts_json=prompts.fence(group),
                ),
                json_mode=True,
            )
        )
        for group in groups
    ]
    if len(reduced) == 1:
        return reduced[0]
    return _reduce(llm, reduced, client=client, when=when, max_chars=max_chars, what=what)


SUMMARY_FIELDS = ("topic", "participants", "key_points", "agreements", "next_steps", "risks")


def extractive_summary(segments: list[Segment], participants: list[str]) -> MeetingSummary:
    said: list[tuple[str | None, str]] = [(s.speaker, x) for s in segments for x in ext.sentences(s.text)]
    texts = [x for _, x in said]

    def actions(pattern, limit=6):
        out = []
        for speaker, sentence in said:
            if pattern.search(sentence) and sentence not in (a.what for a in out):
                out.append(Action(what=sentence, owner=speaker, due=ext.due_of(sentence)))
        return out[:limit]

    agreements = actions(ext.AGREEMENT_RE)
    next_steps = [a for a in actions(ext.NEXT_STEP_RE) if a.what not in {x.what for x in agreements}]
    committed = {a.what for a in agreements + next_steps}
    # a risk is what was complained about, not the promise that answered it; words about leaving us come first
    intent = [q for s in segments for q in leaving.leaving_intent(s.text)]
    complained = (x for x in texts if ext.RISK_RE.search(x) and x not in committed)
    risks = list(dict.fromkeys([*intent, *complained]))[:6]
    key_points = ext.rank_sentences(texts, 5)
    topic = key_points[0] if key_points else (texts[0] if texts else "")
    # "Анна" from the transcript is the same person as "Анна Соколова (ООО …)" from metadata
    people = list(participants)
    for speaker in dict.fromkeys(s.speaker for s in segments if s.speaker):
        if not any(p == speaker or p.startswith(speaker + " ") for p in people):
            people.append(speaker)
    return MeetingSummary(
        topic=topic[:200],
        participants=people,
        key_points=key_points,
        agreements=agreements,
        next_steps=next_steps,
        risks=risks,
        generated_by="offline:extractive",
        extractive=True,
    )
