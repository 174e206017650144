"""Ask about one client: retrieve passages (hybrid, always filtered by client_id, optional period from the
question, recency-aware), answer in Russian with [n] citations — GLM (streaming, may call warehouse tools) or
extractive offline — or say plainly that it is not in the data.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from connectors.embeddings import STOP_WORDS, Embedder, terms
from connectors.llm import prompts
from connectors.llm.base import LLMClient, LLMError
from warehouse.rag import Hit, RagIndex

MONTHS_GEN = [
    "январ",
    "феврал",
    "март",
    "апрел",
    "ма[йяе]",
    "июн",
    "июл",
    "август",
    "сентябр",
    "октябр",
    "ноябр",
    "декабр",
]
_MONTH_RE = re.compile(r"\b(?:в|во|за)\s+(" + "|".join(MONTHS_GEN) + r")[а-я]*(?:\s+(\d{4}))?", re.I)
QUESTION_WORDS = frozenset(
    """сколько какой какая какое какие каким каких что чем когда где почему зачем как ли говорил говорила говорили
    сказал сказала сказали обсуждали обсуждал упоминал упоминали писал писала писали был была были есть он она они
    мы нам наш наша наши нашей последний последнюю последние последних последней последнего последнем месяц
    неделю неделе недели дней день году год этом прошлой прошлом вчера сегодня клиент клиента клиенту клиентом ему
    его её ее у по про о об всплывали всплывало работает работают прошлый прошлая прошлые прошлого прошлую
    прошлым""".split()
)
# what curators ask in their words → how it is said in the data (the offline answerer matches words, not meaning)
COMPLAINTS = ["задерж", "пересо", "штраф", "долго", "дорог", "недов"]
SYNONYMS = {
    "обеща": ["пришл", "отправ", "подгот", "сдела", "догов", "пров", "срок"],
    "блокер": ["задерж", "пересо", "штраф", "долго", "висит", "дорог"],
    "пробл": ["задерж", "пересо", "штраф", "долго", "висит", "дорог"],
    "жалоб": COMPLAINTS,  # жалоба, жалобы
    "жалов": COMPLAINTS,  # жаловался, жаловались
    "жалу": COMPLAINTS,  # жалуется, жалуются
    "пожалов": COMPLAINTS,  # пожаловался
    "маркетпл": ["wildb", "ozon", "яндек", "марке", "мегам"],
    "торгу": ["wildb", "ozon", "яндек", "марке"],
    "настро": ["тон"],
    "продаё": ["прода", "товар"],
}
RECENCY_HALF_LIFE_DAYS = 60
NUMERIC_RE = re.compile(r"сколько|объ[её]м|остат", re.I)
TOOLS_RE = re.compile(
    r"сколько|объ[её]м|отгруз|остат|резерв|постав|вывез|тон|настроени|тревог|риск|профил|динамик", re.I
)


def parse_period(question: str, today: date) -> tuple[datetime | None, datetime | None]:
    """The period a question is about: «за последний месяц», «за 2 недели», «в октябре», «вчера», …"""
    q = question.lower()
    day = timedelta(days=1)
    t0 = datetime.combine(today, datetime.min.time())
    if m := re.search(r"за последние\s+(\d+)\s+(дн|недел|месяц)", q):
        n, unit = int(m.group(1)), m.group(2)
        return t0 - timedelta(days=n * {"дн": 1, "недел": 7, "месяц": 30}[unit]) + day, t0 + day
    if re.search(r"за (последн\w+ )?недел", q):
        return t0 - timedelta(days=6), t0 + day
    if re.search(r"за (последн\w+ )?месяц", q):
        return t0 - timedelta(days=29), t0 + day
    if re.search(r"прошл\w* недел", q):
        monday = t0 - timedelta(days=today.weekday() + 7)
        return monday, monday + timedelta(days=7)
    if "на этой неделе" in q:
        monday = t0 - timedelta(days=today.weekday())
        return monday, t0 + day
    if "вчера" in q:
        return t0 - day, t0
    if "сегодня" in q:
        return t0, t0 + day
    if "в этом месяце" in q:
        return t0.replace(day=1), t0 + day
    if m := _MONTH_RE.search(q):
        month = next(i for i, stem in enumerate(MONTHS_GEN, 1) if re.match(stem, m.group(1)))
        year = int(m.group(2)) if m.group(2) else (today.year if month <= today.month else today.year - 1)
        start = datetime(year, month, 1)
        end = datetime(year + (month == 12), month % 12 + 1, 1)
        return start, end
    if re.search(r"прошл\w* год", q):
        return datetime(today.year - 1, 1, 1), datetime(today.year, 1, 1)
    if m := re.search(r"в (\d{4}) год", q):
        return datetime(int(m.group(1)), 1, 1), datetime(int(m.group(1)) + 1, 1, 1)
    return None, None


def key_terms(question: str) -> list[str]:
    words = [w for w in re.findall(r"[a-zа-яё0-9]+", question.lower()) if w not in QUESTION_WORDS]
    return [t for t in terms(" ".join(words)) if t not in STOP_WORDS and not re.fullmatch(r"\d{4}", t)]


def _matches(term: str, tokens: set[str]) -> bool:
    if term in tokens:
        return True
    if len(term) >= 5 and any(len(t) >= 5 and t[:5] == term[:5] for t in tokens):
        return True  # the same word in another form: отгрузил ~ отгружено, пересорт ~ пересорта
    for prefix, words in SYNONYMS.items():
        if term.startswith(prefix):
            return any(t.startswith(w) for w in words for t in tokens)
    return False


def overlap(question_terms: list[str], text: str) -> float:
    if not question_terms:
        return 0.0
    tokens = set(terms(text))
    return sum(_matches(t, tokens) for t in question_terms) / len(question_terms)


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
                messages.append(
                    {
                        "role": "assistant",
                        "content": message.content or "",
                        "tool_calls": [
                            {
                                "id": c.id,
                                "type": "function",
                                "function": {"name": c.function.name, "arguments": c.function.arguments},
                            }
                            for c in calls
                        ],
                    }
                )
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
    from chat_app.tools import WarehouseTools
    from config.factory import build_embedder, build_llm

    return ClientQA(
        RagIndex(settings.rag_path, settings.embed_dim),
        build_embedder(settings),
        build_llm(settings),
        tools=WarehouseTools(settings.warehouse_path),
    )
