"""What an answer is made of: the numbered passages given to the model (retrieved or from the warehouse tools),
the citations an answer keeps, and the answer itself."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from config.settings import get_settings
from connectors.llm import prompts
from connectors.llm.profile import KINDS as PROFILE_KINDS
from warehouse.refs import parse_ref

MONTHS = (
    "январь", "февраль", "март", "апрель", "май", "июнь",
    "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
)  # fmt: skip
_SUBJECT = re.compile(r"^Письмо[^:]*:\s*(.+?)\s*$")
_STARTED = re.compile(r"\d\d\.\d\d\.\d{4} \d\d:\d\d")  # a recording's start in its title (rag/chunks.py)
_PROFILE_KIND = re.compile(r"^Профиль:\s*(.+?)\s*$")


@dataclass
class Passage:
    n: int
    source: str
    source_ref: str
    deep_ref: str
    occurred_at: datetime | None
    title: str
    text: str

    def render(self) -> str:
        when = f"{self.occurred_at:%d.%m.%Y %H:%M}" if self.occurred_at else "—"
        return prompts.PASSAGE.format(n=self.n, when=when, data=prompts.fence(self.text, {"Название": self.title}))


@dataclass
class Citation:
    n: int
    source: str
    source_id: str
    deep_ref: str
    time: str | None
    title: str
    quote: str

    @property
    def label(self) -> str:
        return citation_label(self.source, self.source_id, self.time, self.title, self.deep_ref)


def _moment(when: datetime | date | str | None) -> datetime | None:
    if isinstance(when, datetime):
        return when
    if isinstance(when, date):
        return datetime.combine(when, datetime.min.time())
    try:
        return datetime.fromisoformat(str(when)) if when else None
    except ValueError:
        return None


def _days(a: date, b: date) -> str:
    """`23.11–29.11.2026`; the year on both ends when the range crosses one."""
    return f"{a:%d.%m}–{b:%d.%m.%Y}" if a.year == b.year else f"{a:%d.%m.%Y}–{b:%d.%m.%Y}"


def _day_of(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _warehouse(ref, at: datetime | None) -> str:
    if ref and ref.kind == "wms_week" and (start := _day_of(ref.parts[1])):
        end, today = start + timedelta(days=6), get_settings().today()
        if end >= today >= start:  # a week still running: up to today, never its Sunday ahead
            return f"Склад, неделя {_days(start, today)}, текущая"
        return f"Склад, неделя {_days(start, end)}"
    if ref and ref.kind == "wms_period" and (a := _day_of(ref.parts[1])) and (b := _day_of(ref.parts[2])):
        return f"Склад, {_days(a, b)}"
    if ref and ref.kind == "wms_month" and (m := _day_of(ref.parts[1] + "-01")):
        return f"Склад, {MONTHS[m.month - 1]} {m.year}"
    return f"Склад, {at:%d.%m.%Y}" if at else "Склад"


def citation_label(
    source: str, source_id: str, when: datetime | date | str | None, title: str | None, deep_ref: str | None = None
) -> str:
    """What a curator reads for a source: «Встреча 30.11.2026, 14:05», «Письмо „Претензия по браку“, 30.11.2026»,
    «Склад, неделя 23.11–29.11.2026» — the kind and the date (the index keeps local time), never a raw reference.
    A meeting or a call is named by its start, wherever in the recording the passage is (`deep_ref`'s second)."""
    at, ref, title = _moment(when), parse_ref(source_id), title or ""
    day = f", {at:%d.%m.%Y}" if at else ""
    if source in ("meeting", "meeting_summary", "call"):
        kind = "Звонок" if source == "call" else "Встреча"
        moment = parse_ref(deep_ref)
        if (started := _STARTED.search(title)) and moment and moment.at:  # a passage inside: its recording's start
            at = datetime.strptime(started[0], "%d.%m.%Y %H:%M")
        elif at and moment and moment.at:
            at -= timedelta(seconds=moment.at)
        return f"{kind} {at:%d.%m.%Y, %H:%M}" if at else kind
    if source == "email":
        subject = m[1] if (m := _SUBJECT.match(title)) and m[1] != "без темы" else ""
        return f"Письмо „{subject}“{day}" if subject else f"Письмо{day}"
    if source == "telegram":
        return f"Telegram{day}"
    if source == "note":
        return f"Заметка куратора{day}"
    if source == "wms":
        return _warehouse(ref, at)
    if source == "tone":
        month = _day_of(ref.parts[1] + "-01") if ref and ref.kind == "tone" else at
        return f"Тон общения, {MONTHS[month.month - 1]} {month.year}" if month else "Тон общения"
    if source == "profile":
        kind = ref.parts[1] if ref and ref.kind == "profile" else (m[1] if (m := _PROFILE_KIND.match(title)) else "")
        kind = PROFILE_KINDS.get(kind, kind)
        return f"Профиль клиента: {kind.lower()}{day}" if kind else f"Профиль клиента{day}"
    if source == "alert":
        return f"Тревога, {at:%d.%m.%Y}" if at else "Тревоги"  # `at`: the day its figures hold for
    if source == "tool_error":
        return "Данные склада недоступны"
    return f"Запись{day}"


def sources_once(citations: Iterable[Citation | dict]) -> list[tuple[list[int], str, str]]:
    """An answer's sources, each once: (its numbers in the answer, its label, the reference that opens the cited
    passage). Several passages of one meeting or chat day are one source; it opens at the first one cited."""
    out: dict[str, tuple[list[int], str, str]] = {}
    for c in citations:
        c = c if isinstance(c, Citation) else Citation(**c)
        out.setdefault(c.label, ([], c.label, c.deep_ref))[0].append(c.n)
    return list(out.values())


@dataclass
class Answer:
    question: str
    client_id: str
    text: str = ""
    found: bool = True
    provider: str = ""
    period: list[str | None] = field(default_factory=lambda: [None, None])
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[str] = field(default_factory=list)  # chunk ids in rank order (for evaluation)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, default=str)
