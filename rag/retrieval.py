"""What a question asks for: the period it names («за последний месяц», «в октябре», …), its content lemmas, and its
intent — the latest meeting/call/e-mail/chat, a change of tone over time — read from lemmas (rag/text.py)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from connectors.llm.profile import MARKETPLACES, SCHEMES
from rag.text import lemma, lemmas, naming, terms, tokens

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
# generic interrogatives, fillers and time words: they say how a question is asked, not what it is about
QUESTION_WORDS = frozenset(
    """сколько какой что чем когда где почему зачем как ли говорить сказать обсуждать упоминать писать быть есть
    он она они мы наш у по про о об последний крайний месяц неделя день год этот прошлый вчера сегодня клиент
    работать случиться сделать хотеть мочь свой весь напоследок раз""".split()
)
# month names are always read as the period; a weekday only after «прошлый» («привезут в четверг» is a fact to match)
_MONTH_NAMES = frozenset("январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь".split())
_WEEKDAY_NAMES = frozenset("понедельник вторник среда четверг пятница суббота воскресенье воскресение".split())
RECENCY_HALF_LIFE_DAYS = 60
NUMERIC_RE = re.compile(r"сколько|объ[её]м|остат|\bцифр", re.I)

# «последняя встреча», «в прошлый раз по телефону», «крайнее письмо», «что пришло на почту напоследок»: the newest item
# of a kind; «что писали на почту вчера»: the items of that kind in the period (lemmas)
_LATEST = frozenset({"последний", "крайний", "прошлый", "недавний", "напоследок"})
_CONTACT_WORDS = {
    ("встреча", "переговоры", "видеосвязь", "видеозвонок", "конференция", "созвон"): ("meeting_summary", "meeting"),
    ("разговор",): ("meeting_summary", "meeting", "call"),
    ("звонок", "телефон", "телефонный", "позвонить", "звонить"): ("call",),
    ("письмо", "почта", "email", "mail", "имейл", "емейл", "мейл", "электронный"): ("email",),
    ("сообщение", "переписка", "чат", "телеграм", "телеграмм", "телега", "telegram", "мессенджер"): ("telegram",),
}
# keyed by the same normal form rag/text.py gives a question's words (a lemma, or a stem for an unknown word)
CONTACT_KINDS = {form: kinds for words, kinds in _CONTACT_WORDS.items() for w in words for form in (w, lemma(w))}
# «поменялся ли тон», «стали ли они злее», «как изменился настрой»: the tone over time
_MOOD = frozenset(
    {
        "тон",
        "настрой",
        "настроение",
        "отношение",
        "относиться",
        "злой",
        "добрый",
        "довольный",
        "недовольный",
        "лояльность",
        "лояльный",
        "тональность",
    }
)
_CHANGE = frozenset(
    {
        "поменяться",
        "измениться",
        "изменение",
        "стать",
        "сравнение",
        "сравнить",
        "динамика",
        "ухудшиться",
        "улучшиться",
        "меняться",
    }
)


def channel(question: str) -> tuple[str, ...] | None:
    """The sources of the kind of contact the question names («по телефону», «на почту», «на встрече»), or None."""
    for w in lemmas(question):
        if w in CONTACT_KINDS:
            return CONTACT_KINDS[w]
    return None


def latest_kind(question: str) -> tuple[str, ...] | None:
    """The sources of «the latest <contact>» the question asks about, or None."""
    words = lemmas(question)
    for i, w in enumerate(words):
        if w in _LATEST:
            for near in words[max(0, i - 3) : i + 4]:
                if near in CONTACT_KINDS:
                    return CONTACT_KINDS[near]
    return None


def asks_tone(question: str) -> bool:
    """«Как они к нам относятся?», «какой тон общения в ноябре?»: the client's mood (the tone by month)."""
    return bool(set(lemmas(question)) & _MOOD)


def asks_tone_change(question: str) -> bool:
    words = set(lemmas(question))
    return bool(words & _MOOD) and (bool(words & _CHANGE) or any(w.endswith("ее") for w in tokens(question)))


# what the warehouse marts count: a «сколько» question with one of these is about the warehouse figures
_FIGURES = frozenset(
    """отгрузить отгружать отгрузка вывезти вывозить вывоз забрать забирать принять принимать приемка завезти
    завозить завоз привезти резерв зарезервировать бронь остаток лежать склад поставка единица штука товар""".split()
)


# what a question asks about the client as a whole, by the words curators use for it (lemmas) → the kinds of the
# client's profile that answer it (connectors/llm/profile.py KINDS: facts with their sources, one passage each)
_ABOUT = {
    ("маркетплейс", "площадка", "торговать", "продаваться", "продавать"): ("marketplaces",),
    ("схема", "fbo", "fbs", "dbs", "rfbs"): ("schemes",),
    ("ассортимент", "продукция", "продавать", "продаваться"): ("products",),
    ("бренд", "марка"): ("brands",),
    ("жалоба", "жаловаться", "претензия", "недовольство", "недовольный", "негатив", "проблема", "рекламация",
     "боль", "конфликт", "бесить", "раздражать"): ("pains", "conflicts"),
    ("уйти", "уход", "угроза", "угрожать", "грозить", "бросить", "конкурент", "сменить", "перейти"): ("conflicts",),
    ("давно", "пора"): ("since",),
}  # fmt: skip
PROFILE_ABOUT: dict[str, tuple[str, ...]] = {}
for _words, _kinds in _ABOUT.items():
    for _w in _words:
        PROFILE_ABOUT[lemma(_w)] = PROFILE_ABOUT.get(lemma(_w), ()) + _kinds


def profile_kinds(question: str) -> tuple[str, ...]:
    """The profile kinds a question asks about («на каких площадках», «чем недоволен»), in the order named."""
    out: list[str] = []
    for w in lemmas(question):
        out += [k for k in PROFILE_ABOUT.get(w, ()) if k not in out]
    return tuple(out)


def named_besides(question: str, about: dict) -> list[str]:
    """The question's key lemmas that name a thing and are not the words of its intent: «курьеров СДЭК» in «жаловался
    ли клиент на курьеров СДЭК?» — the intent's passages answer it only when they speak of these."""
    keys, aliases = set(key_terms(question)), {t for n in canonical_names(question) for t in terms(n)}
    named = [lemma(w) for w in tokens(question) if lemma(w) in keys and lemma(w) not in about and naming(w)]
    if aliases:  # «на ВБ или озоне» is matched by its names in the data, not by the way it was typed
        named = [t for t in named if not any(rx.search(t) for _, rx in (*MARKETPLACES, *SCHEMES))] + sorted(aliases)
    return named


_PROMISE = frozenset(
    """обещать пообещать обещание договориться договоренность условиться обязательство обязаться
    гарантировать согласовать""".split()
)


PROMISE_WORDS = {w: ("promises",) for w in _PROMISE}


def asks_promises(question: str) -> bool:
    """«Что мы обещали?», «о чём договорились?»: what was agreed (the summaries' agreements and next steps)."""
    return bool(set(lemmas(question)) & _PROMISE)


def asks_figures(question: str) -> bool:
    """A numeric question about the warehouse: «сколько отгрузили в октябре», «какой остаток на конец недели»."""
    words = set(lemmas(question))
    return bool(NUMERIC_RE.search(question) or "остаток" in words) and bool(words & _FIGURES)


_WEEKDAYS = ["поне", "втор", "сред", "четв", "пятн", "субб", "воск"]
_PAST_WEEKDAY = re.compile(r"\b(?:в|во) прошл\w* (понедельник|вторник|среду|четверг|пятницу|субботу|воскресенье)\b")


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
    if re.search(r"(?:за|в) прошл\w* месяц", q):
        first = t0.replace(day=1)
        return (first - day).replace(day=1), first
    if m := _PAST_WEEKDAY.search(q):
        # «в прошлый понедельник»: the latest Monday before today (a bare «в понедельник» may be the next one)
        back = (today.weekday() - _WEEKDAYS.index(m.group(1)[:4])) % 7 or 7
        return t0 - timedelta(days=back), t0 - timedelta(days=back - 1)
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
    """The question's content lemmas (what it is about), without interrogatives, the words of its period and years;
    a marketplace or scheme however written («ВБ», «озон», «фбс») also as its name in the data («wildberries»)."""
    time_words = _MONTH_NAMES | (_WEEKDAY_NAMES | {"прошлое"} if _PAST_WEEKDAY.search(question.lower()) else set())
    out = [
        t for t in terms(question) if t not in QUESTION_WORDS and not re.fullmatch(r"\d{4}", t) and t not in time_words
    ]
    for name in canonical_names(question):
        out += [t for t in terms(name) if t not in out]
    return out


def canonical_names(text: str) -> list[str]:
    """The marketplaces and schemes a text names, by their names in the client's profile."""
    return [name for name, rx in (*MARKETPLACES, *SCHEMES) if rx.search(text)]


YEAR_RE = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")


def overlap(question_terms: list[str], text: str) -> float:
    """Share of the question's content lemmas the text holds."""
    if not question_terms:
        return 0.0
    have = set(terms(text))
    return sum(t in have for t in question_terms) / len(question_terms)
