"""What a question asks for: the period it names («за последний месяц», «в октябре», …), its key terms, and how
well a text matches them (word forms and the curators' words for what the data says)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from rag.embeddings import STOP_WORDS, terms

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
