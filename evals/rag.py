"""RAG evaluation over the demo data: the questions curators ask about a client, each knowing what a right passage
is (its source kinds and a fact it holds, an exact chunk id, or the latest item of a kind) and which facts the
ANSWER TEXT must hold; questions whose answer is not in the data must get «В данных этого нет.».

The question texts are fixed (the topic table below); which clients they are asked about, and what the right
passages and expected facts are, follow from what the demo data holds (a question about «пересорт» is asked of the
clients whose conversations mention it, the latest meeting is found in the data, warehouse figures come from the
marts), so the set stays right when the demo is rebuilt on another day. Run `client360 demo` first.

Words are compared as lemmas (pymorphy3); numbers as numbers («4 000» = «4000»); dates as days («01.12.2026» =
«1 декабря»). A question is a paraphrase when it shares no content lemma with any right passage; the set reports
their share. Every question falls into a stable half («калибровка» / «контроль») by a hash of its client and text,
so thresholds can be fitted on one half and reported on the other.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import lru_cache

from connectors.llm import prompts
from devkit.demo import CLIENTS
from rag.answer import Answer, ClientQA
from warehouse import duck
from warehouse.duck import fetch_dicts
from warehouse.refs import make_ref

K = 5  # Recall@K
MEETING = ("meeting", "meeting_summary")
CHAT = ("telegram",)
EMAIL = ("email",)
CALL = ("call",)
CONVERSATION = MEETING + CHAT + EMAIL + CALL

CATEGORIES = {
    "complaints": "претензии",
    "promises": "обещания",
    "prices": "цены и тарифы",
    "marketplaces": "маркетплейсы и схемы",
    "threats": "угрозы уйти",
    "latest": "последний контакт",
    "tone": "смена тона",
    "warehouse": "цифры склада",
    "periods": "периоды",
    "absent": "нет в данных",
}
HALVES = {"calibration": "калибровка", "held_out": "контроль"}
# the acceptance
ACCEPT_RECALL, ACCEPT_RECALL_CATEGORY, ACCEPT_ABSENT, ACCEPT_ACCURACY = 0.9, 0.8, 0.9, 0.85
# a sentence with [n] is supported when this share of its content lemmas (at least one) is in passage n
SUPPORT_SHARE = 0.3

MONTHS_NOM = (
    "январь", "февраль", "март", "апрель", "май", "июнь",
    "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
)  # fmt: skip
MONTHS_PREP = (
    "январе", "феврале", "марте", "апреле", "мае", "июне",
    "июле", "августе", "сентябре", "октябре", "ноябре", "декабре",
)  # fmt: skip

# ---------------------------------------------------------------- words: lemmas, numbers, dates

_FUNCTION_POS = {"NPRO", "PREP", "CONJ", "PRCL", "INTJ", "PRED"}
_FUNCTION_GRAMMEMES = {"Apro", "Ques", "Anph"}
_AUXILIARY = {"быть"}  # «был ли …»: the copula carries no content
_NUMBER_GROUPS = re.compile(r"(?<!\d)(\d{1,3})((?:[ \u00a0\u202f]\d{3})+)(?!\d)")
_NUMERIC_DATE = re.compile(r"(?<!\d)(\d{1,2})\.(\d{1,2})(?:\.(\d{4}))?(?![\d])")
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_WORD = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+(?:-[^\W\d_]+)*")
_MARKER = re.compile(r"\[(\d+)\]")
_GENITIVE_MONTHS = "января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"
_WORD_DATE = re.compile(rf"(?<!\d)(\d{{1,2}})\s+({_GENITIVE_MONTHS})", re.I)


@lru_cache(maxsize=1)
def _morph():
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=200_000)
def _lemma(word: str) -> tuple[str, bool]:
    """(lemma, is a content word)."""
    word = word.lower().replace("ё", "е")
    if word[0].isdigit():
        return word.replace(",", "."), True
    parse = _morph().parse(word)[0]
    lemma = parse.normal_form.replace("ё", "е")
    tag = parse.tag
    content = (
        tag.POS not in _FUNCTION_POS
        and not (_FUNCTION_GRAMMEMES & set(tag.grammemes))
        and lemma not in _AUXILIARY
        and len(lemma) > 1
    )
    return lemma, content


def join_numbers(text: str) -> str:
    """«4 000 ед.» → «4000 ед.»: digit groups written with (narrow) spaces are one number."""
    return _NUMBER_GROUPS.sub(lambda m: m[1] + re.sub(r"\D", "", m[2]), text)


def day_tokens(text: str) -> set[str]:
    """Days named in a text, as `d:MM-DD`: «01.12.2026», «1.12», «2026-12-01», «1 декабря»."""
    out = set()
    for m in _NUMERIC_DATE.finditer(text):
        d, mo = int(m[1]), int(m[2])
        if 1 <= d <= 31 and 1 <= mo <= 12:
            out.add(f"d:{mo:02d}-{d:02d}")
    for m in _ISO_DATE.finditer(text):
        out.add(f"d:{int(m[2]):02d}-{int(m[3]):02d}")
    for m in _WORD_DATE.finditer(text):
        mo = _GENITIVE_MONTHS.split("|").index(m[2].lower()) + 1
        out.add(f"d:{mo:02d}-{int(m[1]):02d}")
    return out


def lemmas(text: str) -> list[str]:
    return [_lemma(w)[0] for w in _WORD.findall(join_numbers(_MARKER.sub(" ", text)))]


def content_lemmas(text: str) -> set[str]:
    return {lem for w in _WORD.findall(join_numbers(_MARKER.sub(" ", text))) for lem, c in [_lemma(w)] if c}


def terms(text: str) -> set[str]:
    """What a fact is looked up in: every lemma and number of the text, and the days it names."""
    return set(lemmas(text)) | day_tokens(text)


def day_fact(day: date) -> str:
    return f"d:{day:%m-%d}"


def fact_present(group: tuple[str, ...], found: set[str]) -> bool:
    """A group of alternatives: one of them present, an alternative being all the lemmas of its phrase."""
    for alternative in group:
        need = {alternative} if alternative.startswith("d:") else set(lemmas(alternative))
        if need and need <= found:
            return True
    return False


def is_paraphrase(question: str, passages: Iterable[str]) -> bool:
    """No content lemma of the question in any of the passages it should find (and at least one such passage)."""
    asked, texts = content_lemmas(question), list(passages)
    return bool(texts) and not any(asked & content_lemmas(t) for t in texts)


def says_absent(answer: Answer) -> bool:
    """The answer says plainly that the data does not hold it (prompts.NOT_IN_DATA)."""
    said = lemmas(answer.text)
    phrase = lemmas(prompts.NOT_IN_DATA)
    cites = _MARKER.search(answer.text)  # a refusal that still quotes passages presents them as the answer
    return not answer.found and not cites and any(said[i : i + len(phrase)] == phrase for i in range(len(said)))


def half_of(client_id: str, text: str) -> str:
    digest = hashlib.sha1(f"{client_id}\n{text}".encode()).digest()
    return "calibration" if digest[0] % 2 == 0 else "held_out"


# ---------------------------------------------------------------- the questions


Facts = tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Need:
    """One passage the answer needs: an exact chunk id, or a source kind holding all the marker lemmas."""

    sources: tuple[str, ...] = ()
    marker: tuple[str, ...] = ()
    chunk_ids: tuple[str, ...] = ()

    def matches(self, chunk: dict) -> bool:
        if self.chunk_ids:
            return chunk["chunk_id"] in self.chunk_ids
        return chunk["source"] in self.sources and set(self.marker) <= _chunk_terms(chunk)


def _chunk_terms(chunk: dict) -> set[str]:
    key = "_terms"
    if key not in chunk:
        chunk[key] = terms(f"{chunk.get('title') or ''}\n{chunk.get('text') or ''}")
    return chunk[key]


@dataclass
class Question:
    client_id: str
    category: str
    text: str
    # any one of these alternatives of needed passages is right (each a list of passages all needed in the top K)
    needs: tuple[tuple[Need, ...], ...] = ()
    # the answer is right when its text holds one of these fact sets: every group of a set, a group by one of its
    # alternatives (a phrase's lemmas, a number, a day `d:MM-DD`)
    facts: tuple[Facts, ...] = ()
    topic: str = ""

    @property
    def absent(self) -> bool:
        return self.category == "absent"

    @property
    def half(self) -> str:
        return half_of(self.client_id, self.text)


@dataclass(frozen=True)
class Topic:
    key: str
    marker: tuple[str, ...]  # lemmas a passage (and the client's conversations) must hold
    sources: tuple[str, ...]
    facts: Facts
    asks: tuple[tuple[str, str], ...]  # (category, question): `per_client` are asked, chosen by a stable hash
    per_client: int = 1


# What the demo's conversations hold. The questions are how a curator types them: short, informal, and most of them
# in other words than the passage.
# fmt: off
TOPICS = [
    Topic("peresort", ("пересорт",), MEETING + CHAT, (("пересорт", "путаница", "перепутать"),), (
        ("complaints", "Что клиент говорил про пересорт?"),
        ("complaints", "Была ли путаница в комплектации?"),
        ("complaints", "Жаловались ли они, что им перепутали позиции?"),
    )),
    Topic("fine", ("штраф",), MEETING + CHAT, (("штраф", "санкция"),), (
        ("complaints", "Выставлял ли маркетплейс клиенту штраф?"),
        ("complaints", "Были ли санкции от площадки?"),
        ("complaints", "Их наказывали рублём из-за нас?"),
    )),
    Topic("storage_price", ("тариф", "хранение", "вырасти"), MEETING, (("дорого", "вырасти", "рост"),), (
        ("prices", "Что клиент говорил о тарифах на хранение?"),
        ("complaints", "Жалуются ли они на цену складирования?"),
        ("prices", "Считают ли они наши расценки завышенными?"),
    ), 2),
    Topic("ozon_delay", ("задержать", "приемка"), MEETING, (("задержать", "задержка", "висеть"),), (
        ("marketplaces", "Что случилось с приёмкой на Ozon?"),
        ("complaints", "Долго ли озон не принимал их груз?"),
        ("marketplaces", "Застряла ли их партия на РЦ у озона?"),
    ), 2),
    Topic("returns_slow", ("возврат", "долго"), MEETING, (("возврат", "отказ"),), (
        ("complaints", "Какие проблемы были с возвратами?"),
        ("complaints", "Нас ругали за медленную обработку отказов?"),
        ("complaints", "Что их не устраивает в работе с возвратным потоком?"),
    )),
    Topic("defect", ("брак",), EMAIL, (("брак", "повредить", "повреждение", "компенсация"),), (
        ("complaints", "Что клиент писал про брак в поставке?"),
        ("complaints", "Требуют ли они возместить ущерб?"),
        ("complaints", "Приходила ли от них рекламация по испорченному товару?"),
    ), 2),
    Topic("threat", ("другой", "фулфилмент"), MEETING, (("фулфилмент", "уйти", "уход", "конкурент"),), (
        ("threats", "Грозил ли клиент уйти к другому фулфилменту?"),
        ("threats", "Собираются ли они нас бросить?"),
        ("threats", "Думают ли они сменить подрядчика?"),
        ("threats", "Есть угроза, что клиент уйдёт?"),
    ), 3),
    Topic("act", ("акт", "пятница"), MEETING, (("акт",),), (
        ("promises", "Когда мы обещали прислать акт?"),
        ("promises", "Какую бумагу мы им пообещали и к какому сроку?"),
        ("promises", "Что мы им пообещали выслать до выходных?"),
    )),
    Topic("window", ("окно", "вторник"), MEETING, (("вторник",),), (
        ("promises", "На какой день зарезервировали окно приёмки?"),
        ("promises", "Когда мы готовы их принять, в какой слот?"),
    )),
    Topic("marking", ("маркировка",), MEETING + CALL, (("маркировка", "честный знак"),), (
        ("promises", "Что по маркировке Честный знак?"),
        ("promises", "Что с обязательными кодами идентификации?"),
        ("marketplaces", "Нужны ли им коды ЧЗ на товар?"),
    )),
    Topic("discount", ("скидка",), MEETING, (("скидка",),), (
        ("promises", "Обещали ли мы клиенту скидку?"),
        ("prices", "Готовы ли мы им уступить в цене?"),
        ("prices", "Предлагали им снизить стоимость?"),
    ), 2),
    Topic("ozon_support", ("запрос", "поддержка"), MEETING, (("поддержка", "запрос"),), (
        ("promises", "Что мы обещали сделать с задержкой на Ozon?"),
        ("promises", "Написали ли мы в саппорт площадки?"),
    )),
    Topic("fbs", ("fbs",), MEETING + CHAT, (("fbs",),), (
        ("marketplaces", "Что клиент хочет сделать с отгрузками FBS?"),
        ("marketplaces", "Работают ли они по FBS?"),
        ("marketplaces", "Хотят ли они, чтобы мы сами слали посылки покупателям?"),
        ("marketplaces", "Будем ли мы паковать их покупки поштучно для конечных покупателей?"),
    ), 2),
    Topic("fbs_start", ("запустить", "fbs"), MEETING, (("fbs",), ("первый", "1")), (
        ("promises", "С какого числа договорились запустить FBS?"),
        ("promises", "С какой даты мы начинаем для них поштучную сборку?"),
    )),
    Topic("returns_sla", ("возврат", "рабочий"), MEETING, (("рабочий", "два день", "2 день"),), (
        ("promises", "За сколько дней обещали разбирать возвраты?"),
        ("promises", "Как быстро обещали разгребать отказы?"),
    )),
    Topic("control", ("проконтролировать",), MEETING, (("проконтролировать", "контроль", "лично"),), (
        ("promises", "Что мы пообещали, чтобы клиент не ушёл?"),
        ("promises", "Кто из нас возьмёт их ближайшие отправки на себя?"),
    )),
    Topic("collection", ("коллекция",), MEETING, (("четыре тысяча", "4000"),), (
        ("warehouse", "Сколько единиц новой коллекции клиент хочет отгрузить?"),
        ("warehouse", "Сколько штук свежей линейки они повезут к акции?"),
    )),
    Topic("photo", ("фотосъемка",), MEETING, (("фотосъемка", "прайс", "съемка"),), (
        ("prices", "Нужна ли клиенту фотосъёмка товаров?"),
        ("prices", "Обещали ли скинуть расценки на фото?"),
        ("prices", "Просили ли они снять карточки для каталога?"),
    ), 2),
    Topic("next_call", ("созвониться", "понедельник"), MEETING, (("понедельник",),), (
        ("promises", "Когда договорились созвониться снова?"),
        ("promises", "Когда мы им перезваниваем?"),
    )),
    Topic("chat_acceptance", ("обед",), CHAT, (("обед",),), (
        ("promises", "Когда примут поставку клиента на склад?"),
        ("promises", "Что мы ответили им в телеге насчёт разгрузки?"),
    )),
    Topic("video", ("видеозапись",), CHAT, (("видеозапись", "видео", "камера"),), (
        ("promises", "Как будем искать виноватого в путанице с товаром?"),
        ("promises", "Поднимем ли записи с камер по их претензии?"),
    )),
    Topic("second_shift", ("смена",), CHAT, (("смена",),), (
        ("promises", "Что мы предложили, чтобы ускорить отгрузку FBS?"),
        ("promises", "Добавим ли людей на комплектацию их посылок?"),
    )),
    Topic("invoice", ("счет", "хранение"), EMAIL, (("счет", "документ"),), (
        ("prices", "О каком счёте клиент писал в письме?"),
        ("prices", "Запрашивали ли они бумаги для бухгалтерии?"),
    )),
    Topic("stock_report", ("отчет", "остаток"), EMAIL, (("отчет",),), (
        ("warehouse", "Какой отчёт клиент просил прислать?"),
        ("warehouse", "Что они просили выслать про наличие товара?"),
    )),
    Topic("pallets", ("паллет", "четверг"), EMAIL, (("12",),), (
        ("warehouse", "Сколько паллет клиент привезёт в четверг?"),
        ("warehouse", "Сколько поддонов они везут к нам?"),
    )),
    Topic("boxes", ("короб",), CALL, (("короб", "коробка", "тара"),), (
        ("marketplaces", "Почему клиент просил перенести отгрузку на Ozon?"),
        ("marketplaces", "Из-за чего сдвигается их отправка на маркетплейс?"),
    ), 2),
    Topic("fixed_price", ("паллетный", "фиксировать"), CALL, (("фиксировать", "фикс", "полгода"),), (
        ("prices", "Что клиент хочет по тарифу на паллетное хранение?"),
        ("prices", "Просят ли они заморозить стоимость места под поддон?"),
        ("prices", "Просят ли они не поднимать им ставку за поддоны до лета?"),
    ), 2),
]
# fmt: on
COMPLAINT_TOPICS = ("peresort", "fine", "storage_price", "ozon_delay", "returns_slow", "defect")
PROMISE_TOPICS = (
    "act", "window", "discount", "ozon_support", "fbs_start", "returns_sla", "control", "next_call",
    "chat_acceptance", "video", "second_shift",
)  # fmt: skip
GENERAL = {
    "complaints": (
        "Какие у клиента были претензии за последний месяц?",
        "На что жаловался клиент за последний месяц?",
        "Чем клиент недоволен?",
        "Есть ли негатив от них в последнее время?",
        "Что их бесит в нашей работе?",
    ),
    "promises": (
        "Что мы обещали клиенту?",
        "О чём мы с ними договорились?",
        "Какие у нас перед ними обязательства?",
        "Что мы им должны сделать?",
    ),
}
# the client's profile, built from the warehouse and the conversations: (lemma of its heading, questions)
PROFILE = {
    "marketplaces": (
        ("маркетплейс",),
        (
            "На каких маркетплейсах торгует клиент?",
            "На каких площадках они продаются?",
            "Где они продают, на ВБ или озоне?",
        ),
    ),
    "schemes": (
        ("схема",),
        (
            "По какой схеме работает клиент, FBO или FBS?",
            "Какая у них модель продаж?",
            "Они сами возят партии на РЦ площадок?",
        ),
    ),
}
LATEST = {
    "meeting": (
        MEETING,
        (
            "Что мы обещали на последней встрече?",
            "Что было на последней встрече?",
            "Чем закончились последние переговоры с ними?",
            "О чём толковали в крайний раз по видеосвязи?",
        ),
    ),
    "call": (
        CALL,
        (
            "О чём был последний звонок?",
            "Что обсуждали в последнем телефонном разговоре?",
            "Чем кончился крайний разговор по телефону?",
        ),
    ),
    "email": (
        EMAIL,
        (
            "Что было в последнем письме от клиента?",
            "Что они прислали на почту в последний раз?",
            "Что нам пришло от них по e-mail напоследок?",
        ),
    ),
}
TONE_CHANGE = (
    "Поменялся ли тон клиента?",
    "Стали ли они недовольнее, чем в прошлом месяце?",
    "Как поменялся их настрой по сравнению с прошлым месяцем?",
    "Они стали злее или добрее за последнее время?",
)
# (figure of the marts, question for a named month, question for the last month)
FIGURES = [
    (
        "outbound",
        "Сколько клиент отгрузил на маркетплейсы в {month}?",
        "Сколько единиц ушло на площадки за прошлый месяц?",
    ),
    ("withdrawal", "Сколько клиент вывез со склада в {month}?", "Сколько они забрали себе за прошлый месяц?"),
    ("inbound", "Сколько товара приняли на склад в {month}?", "Сколько товара они завезли за прошлый месяц?"),
    ("reserved", "Сколько было зарезервировано в {month}?", "Сколько лежало в резерве за прошлый месяц?"),
]
WEEK_FIGURES = [
    ("outbound", "Сколько отгрузили на маркетплейсы на прошлой неделе?"),
    ("stock_end", "Какой остаток на складе был на конец прошлой недели?"),
    ("stock_end", "Сколько товара лежало на полках в прошлое воскресенье?"),
    ("inbound", "Сколько они завезли на прошлой неделе?"),
]
ABSENT = [
    "Какая скидка в договоре на 2027 год?",
    "Какой у клиента бюджет на рекламу?",
    "Сколько сотрудников работает у клиента?",
    "Есть ли у клиента собственный склад в Казани?",
    "Какая у них выручка за прошлый год?",
    "Отгружал ли клиент на Мегамаркет?",
    "Что клиент говорил про страховку груза?",
    "Жаловался ли клиент на курьеров СДЭК?",
    "Подписали ли мы договор на 2027 год?",
    "Какой штраф выставил Ozon в 2025 году?",
    "Были ли у клиента проблемы с таможней?",
    "Нужно ли им хранение с температурным режимом?",
    "Что клиент думает про наш склад в Подольске?",
    "Сколько стоит доставка их товара в Беларусь?",
    "Кто у них главный бухгалтер?",
    "Просили ли они пересчитать тариф на 2028 год?",
    "Обсуждали ли мы с ними кросс-докинг в Екатеринбурге?",
    "Какая у клиента конверсия карточек на Wildberries?",
]
ABSENT_PER_QUESTION = 4  # clients each absent question is asked of


def _stable(*parts: str) -> int:
    return int.from_bytes(hashlib.sha1("\n".join(parts).encode()).digest()[:4], "big")


def _said(con) -> dict[str, list[set[str]]]:
    """The terms of each of a client's conversation items (a meeting, a message, an e-mail or call) as the warehouse
    holds them — not the index: a passage missing from the index must show as a miss, not as a question left out."""
    queries = [
        "select client_id, text from staging.stg_meetings__transcripts where client_id is not null",
        "select client_id, text from staging.stg_telegram__messages where client_id is not null",
        "select client_id, coalesce(subject, '') || ' ' || coalesce(body_text, '') as text "
        "from staging.stg_bitrix24__activities where client_id is not null",
    ]
    out: dict[str, list[set[str]]] = {}
    for sql in queries:
        for r in fetch_dicts(con, sql):
            out.setdefault(r["client_id"], []).append(terms(r["text"] or ""))
    return out


def topics_in(chunks: list[dict]) -> list[Topic]:
    """The topics some of these passages hold."""
    return [t for t in TOPICS if any(Need(t.sources, t.marker).matches(c) for c in chunks)]


def _pick(asks: tuple[str, ...], lead: str, key: str, n: int, first: int = 0) -> list[str]:
    """The first `first` questions always, and `n` of the rest chosen for this client by a stable hash."""
    rest = asks[first:]
    start = _stable(lead, key)
    return [*asks[:first], *(rest[(start + i) % len(rest)] for i in range(min(n, len(rest))))]


def _month_start(day: date, back: int) -> date:
    y, m = day.year, day.month - back
    while m < 1:
        y, m = y - 1, m + 12
    return date(y, m, 1)


def build_questions(con, chunks: dict[str, dict], today: date) -> list[Question]:
    """The question set for the data as it is: `chunks` are the index's passages by chunk id."""
    leads = [c[0] for c in CLIENTS]
    said = _said(con)
    profile: dict[tuple[str, str], list[str]] = {}
    for r in fetch_dicts(
        con,
        "select distinct client_id, kind, fact_key from staging.stg_enrichment__client_profile_facts "
        "where kind in ('marketplaces', 'schemes') order by 1, 2, 3",
    ):
        profile.setdefault((r["client_id"], r["kind"]), []).append(r["fact_key"])
    by_client: dict[str, list[dict]] = {}
    for c in chunks.values():
        by_client.setdefault(c["client_id"], []).append(c)
    topics = {t.key: t for t in TOPICS}
    out: list[Question] = []

    def need(t: Topic) -> tuple[Need, ...]:
        return (Need(t.sources, t.marker),)

    for lead in leads:
        items = said.get(lead, [])
        present = [t for t in TOPICS if any(set(t.marker) <= item for item in items)]
        for t in present:
            for i in range(t.per_client):
                category, text = t.asks[(_stable(lead, t.key) + i) % len(t.asks)]
                out.append(Question(lead, category, text, (need(t),), (t.facts,), t.key))
        for kind, (marker, asks) in PROFILE.items():
            names = tuple(profile.get((lead, kind), ()))
            if names:
                for i in range(2):
                    text = asks[(_stable(lead, kind) + i) % len(asks)]
                    needs = ((Need(("profile",), marker),),)
                    out.append(Question(lead, "marketplaces", text, needs, ((names,),), kind))
        for category, keys in (("complaints", COMPLAINT_TOPICS), ("promises", PROMISE_TOPICS)):
            mine = [topics[k] for k in keys if topics[k] in present]
            if not mine:
                continue
            facts = tuple(t.facts for t in mine)
            # the issue's own complaint questions of every client, and one more
            first = 2 if category == "complaints" else 0
            for text in _pick(GENERAL[category], lead, category, 1 if first else 2, first):
                out.append(Question(lead, category, text, tuple(need(t) for t in mine), facts, category))
        if "threat" not in {t.key for t in present} and lead in said:
            threat = topics["threat"]
            text = threat.asks[_stable(lead, "no-threat") % len(threat.asks)][1]
            out.append(Question(lead, "absent", text, topic="threat"))
        out += _latest(lead, by_client.get(lead, []))
        out += _tone(lead, by_client.get(lead, []), today)
        out += _periods(lead, by_client.get(lead, []), present, today)
    out += _warehouse(con, leads, today)
    for lead in leads:  # the issue's own example, of every client
        out.append(Question(lead, "absent", ABSENT[0], topic="absent"))
    for i, text in enumerate(ABSENT[1:]):
        for j in range(ABSENT_PER_QUESTION):
            lead = leads[(i * ABSENT_PER_QUESTION + j) % len(leads)]
            out.append(Question(lead, "absent", text, topic="absent"))
    return out


def _latest(lead: str, chunks: list[dict]) -> list[Question]:
    out = []
    for kind, (sources, asks) in LATEST.items():
        items: dict[str, list[dict]] = {}
        for c in chunks:
            if c["source"] in sources and c["occurred_at"]:
                items.setdefault(c["source_ref"], []).append(c)
        if not items:
            continue
        ref, latest = max(items.items(), key=lambda kv: min(c["occurred_at"] for c in kv[1]))
        day = min(c["occurred_at"] for c in latest).date()
        ids = tuple(c["chunk_id"] for c in latest)
        # the day, or what it was about (the topics the item holds)
        facts = (((day_fact(day),),),) + (() if kind == "meeting" else tuple(t.facts for t in topics_in(latest)))
        first = 1 if kind == "meeting" else 0  # the issue's «Что мы обещали на последней встрече?» of every client
        for text in _pick(asks, lead, kind, 2 - first, first):
            out.append(Question(lead, "latest", text, tuple((Need(chunk_ids=(cid,)),) for cid in ids), facts, kind))
    return out


def _tone(lead: str, chunks: list[dict], today: date) -> list[Question]:
    months = sorted((c for c in chunks if c["source"] == "tone"), key=lambda c: c["source_ref"])
    out = []
    if len(months) >= 2:
        before, after = months[-2], months[-1]
        names = [MONTHS_NOM[int(c["source_ref"].rsplit("-", 1)[1]) - 1] for c in (before, after)]
        needs = ((Need(chunk_ids=(before["chunk_id"],)), Need(chunk_ids=(after["chunk_id"],))),)
        for text in _pick(TONE_CHANGE, lead, "tone", 1, 1):
            out.append(Question(lead, "tone", text, needs, (((names[0],), (names[1],)),), "tone_change"))
    if months:
        c = months[-1]
        month = int(c["source_ref"].rsplit("-", 1)[1])
        mood = re.search(r":\s*(\w+),", c["text"])
        if mood:
            relative = {today.month: "в этом месяце", _month_start(today, 1).month: "в прошлом месяце"}
            text = (
                f"Как они к нам относятся {relative[month]}?"
                if month in relative and _stable(lead, "mood") % 2
                else f"Какой тон общения с клиентом в {MONTHS_PREP[month - 1]}?"
            )
            needs = ((Need(chunk_ids=(c["chunk_id"],)),),)
            out.append(Question(lead, "tone", text, needs, (((mood[1],),),), "tone"))
    return out


def _periods(lead: str, chunks: list[dict], present: list[Topic], today: date) -> list[Question]:
    """Questions whose period decides the answer: complaints of a month, what came by mail or chat yesterday."""
    out = []
    complaint = [t for t in present if t.key in COMPLAINT_TOPICS]
    months = sorted({c["occurred_at"].date().replace(day=1) for c in chunks if c["source"] in CONVERSATION})
    for m in months[-2:]:
        inside = [
            c
            for c in chunks
            if c["occurred_at"].date().replace(day=1) == m
            and any(Need(t.sources, t.marker).matches(c) for t in complaint)
        ]
        if inside:
            facts = tuple(t.facts for t in topics_in(inside) if t in complaint)
            text = f"Какие жалобы были от клиента в {MONTHS_PREP[m.month - 1]}?"
            out.append(
                Question(lead, "periods", text, tuple((Need(chunk_ids=(c["chunk_id"],)),) for c in inside), facts)
            )
    yesterday = today - timedelta(days=1)
    for sources, text in ((EMAIL, "Что клиент писал на почту вчера?"), (CALL, "О чём говорили по телефону вчера?")):
        inside = [c for c in chunks if c["source"] in sources and c["occurred_at"].date() == yesterday]
        about = tuple(t.facts for t in topics_in(inside))
        if inside and about:
            out.append(
                Question(lead, "periods", text, tuple((Need(chunk_ids=(c["chunk_id"],)),) for c in inside), about)
            )
    # a month with no conversation at all: nothing to answer
    quiet = _month_start(today, 4)
    if months and quiet < months[0]:
        out.append(Question(lead, "absent", f"Что клиент писал нам в {MONTHS_PREP[quiet.month - 1]}?", topic="quiet"))
    return out


def _warehouse(con, leads: list[str], today: date) -> list[Question]:
    named, last = _month_start(today, 2), _month_start(today, 1)
    monthly = {
        (r["client_id"], r["month"]): r
        for r in fetch_dicts(
            con,
            "select client_id, cast(date_trunc('month', day) as date) as month, sum(outbound_units) as outbound, "
            "sum(withdrawal_units) as withdrawal, sum(inbound_units) as inbound, sum(reserved_units) as reserved "
            "from marts.fct_client_daily_activity where day >= ? group by 1, 2",
            [named],
        )
    }
    monday = today - timedelta(days=today.weekday() + 7)
    weekly = {
        r["client_id"]: r
        for r in fetch_dicts(con, "select * from intermediate.int_wms_weekly where week = ?", [monday])
    }
    out = []
    for lead in leads:
        for figure, named_q, last_q in FIGURES:
            for month, text, category in (
                (named, named_q.format(month=MONTHS_PREP[named.month - 1]), "warehouse"),
                (last, last_q, "periods"),
            ):
                value = (monthly.get((lead, month)) or {}).get(figure)
                if value and _stable(lead, figure, text) % 2 == 0:
                    cid = make_ref("wms_month", lead, f"{month:%Y-%m}") + "#0"
                    out.append(Question(lead, category, text, ((Need(chunk_ids=(cid,)),),), (((str(int(value)),),),)))
        row = weekly.get(lead) or {}
        for figure, text in WEEK_FIGURES:
            value = row.get(figure)
            if value and _stable(lead, text) % 2 == 0:
                cid = make_ref("wms_week", lead, f"{monday:%Y-%m-%d}") + "#0"
                out.append(Question(lead, "periods", text, ((Need(chunk_ids=(cid,)),),), (((str(int(value)),),),)))
    return out


# ---------------------------------------------------------------- grading


@dataclass
class Graded:
    question: Question
    rank: int | None  # where the right passages are all in the list (1-based), None when not in the top 10
    correct: bool  # answerable: the facts in the answer text; absent: «В данных этого нет.»
    paraphrase: bool
    text: str = ""
    retrieved: list[str] = field(default_factory=list)
    supported: tuple[int, int] = (0, 0)  # sentences with [n] the passage supports, of those with [n]


def rank_of(question: Question, retrieved: list[str], chunks: dict[str, dict], depth: int = 10) -> int | None:
    """The rank at which one alternative of the question's needed passages is complete in the retrieved list."""
    best = None
    for needs in question.needs:
        ranks = []
        for n in needs:
            r = next(
                (i for i, cid in enumerate(retrieved[:depth], 1) if cid in chunks and n.matches(chunks[cid])), None
            )
            ranks.append(r)
        if ranks and all(ranks):
            best = min(best or depth + 1, max(ranks))
    return best


def right_passages(question: Question, chunks: Iterable[dict]) -> list[str]:
    return [
        f"{c.get('title') or ''}\n{c.get('text') or ''}"
        for c in chunks
        if c["client_id"] == question.client_id and any(n.matches(c) for needs in question.needs for n in needs)
    ]


def answer_correct(question: Question, answer: Answer) -> bool:
    if question.absent:
        return says_absent(answer)
    if not answer.found or says_absent(answer):
        return False
    found = terms(answer.text)
    return any(all(fact_present(group, found) for group in facts) for facts in question.facts)


def _sentences(text: str) -> list[str]:
    """Sentences of an answer, each keeping the [n] markers written after its full stop."""
    return [s.strip() for line in text.splitlines() for s in re.split(r"(?<=[.!?»…])\s+(?=[^\s\[])", line) if s.strip()]


def citation_support(answer: Answer, chunks: dict[str, dict]) -> tuple[int, int]:
    """(sentences whose every [n] holds enough of the sentence's content lemmas, sentences with an [n])."""
    by_n = {}
    for n, cid in enumerate(answer.retrieved, 1):
        if cid in chunks:
            by_n[n] = f"{chunks[cid].get('title') or ''}\n{chunks[cid].get('text') or ''}"
    for c in answer.citations:
        by_n[c.n] = by_n.get(c.n, "") + f"\n{c.title}\n{c.quote}"
    ok = total = 0
    for sentence in _sentences(answer.text):
        marks = [int(m) for m in _MARKER.findall(sentence)]
        if not marks:
            continue
        total += 1
        said = content_lemmas(sentence)
        need = max(1, math.ceil(SUPPORT_SHARE * len(said)))
        ok += all(n in by_n and len(said & content_lemmas(by_n[n])) >= need for n in marks)
    return ok, total


def grade(question: Question, answer: Answer, chunks: dict[str, dict]) -> Graded:
    return Graded(
        question,
        None if question.absent else rank_of(question, answer.retrieved, chunks),
        answer_correct(question, answer),
        not question.absent and is_paraphrase(question.text, right_passages(question, chunks.values())),
        answer.text,
        list(answer.retrieved),
        citation_support(answer, chunks),
    )


# ---------------------------------------------------------------- results


@dataclass
class Figures:
    questions: int
    answerable: int
    recall: float
    mrr: float
    accuracy: float  # answerable questions whose answer text holds the facts
    absent: float | None  # absent questions answered «В данных этого нет.»
    paraphrase: float  # share of the answerable questions that are paraphrases
    supported: float | None  # sentences with [n] supported by passage n


def figures(rows: list[Graded]) -> Figures:
    answerable = [g for g in rows if not g.question.absent]
    absent = [g for g in rows if g.question.absent]
    n = len(answerable)
    marked = sum(g.supported[1] for g in rows)
    return Figures(
        len(rows),
        n,
        sum(g.rank is not None and g.rank <= K for g in answerable) / n if n else 0.0,
        sum(1 / g.rank for g in answerable if g.rank) / n if n else 0.0,
        sum(g.correct for g in answerable) / n if n else 0.0,
        sum(g.correct for g in absent) / len(absent) if absent else None,
        sum(g.paraphrase for g in answerable) / n if n else 0.0,
        sum(g.supported[0] for g in rows) / marked if marked else None,
    )


@dataclass
class RagEval:
    rows: list[Graded]
    provider: str = ""

    def of(self, half: str | None = None, category: str | None = None) -> list[Graded]:
        return [
            g
            for g in self.rows
            if (half is None or g.question.half == half) and (category is None or g.question.category == category)
        ]

    def figures(self, half: str | None = None, category: str | None = None) -> Figures:
        return figures(self.of(half, category))

    def failures(self) -> list[str]:
        """What fails the issue's acceptance, in Russian; empty when it passes."""
        total, out = self.figures(), []
        if total.recall < ACCEPT_RECALL:
            out.append(f"Recall@{K} {total.recall:.2f} < {ACCEPT_RECALL}")
        for key, name in CATEGORIES.items():
            f = self.figures(category=key)
            if key != "absent" and f.answerable and f.recall < ACCEPT_RECALL_CATEGORY:
                out.append(f"Recall@{K} в категории «{name}» {f.recall:.2f} < {ACCEPT_RECALL_CATEGORY}")
        if total.absent is not None and total.absent < ACCEPT_ABSENT:
            out.append(f"«нет в данных» {total.absent:.2f} < {ACCEPT_ABSENT}")
        if total.accuracy < ACCEPT_ACCURACY:
            out.append(f"точность ответов {total.accuracy:.2f} < {ACCEPT_ACCURACY}")
        return out

    def to_dict(self) -> dict:
        return {
            "provider": self.provider,
            "overall": asdict(self.figures()),
            "halves": {h: asdict(self.figures(half=h)) for h in HALVES},
            "categories": {c: asdict(self.figures(category=c)) for c in CATEGORIES if self.of(category=c)},
            "failures": self.failures(),
            "questions": [
                {
                    "client_id": g.question.client_id,
                    "category": g.question.category,
                    "question": g.question.text,
                    "half": g.question.half,
                    "rank": g.rank,
                    "correct": g.correct,
                    "paraphrase": g.paraphrase,
                    "supported": list(g.supported),
                    "answer": g.text,
                    "retrieved": g.retrieved[:K],
                }
                for g in self.rows
            ],
        }


def load_chunks(engine: ClientQA) -> dict[str, dict]:
    tbl = engine.index.table(create=False)
    if tbl is None:
        raise SystemExit("Индекс пуст: сначала запустите `client360 demo`")
    columns = ["chunk_id", "client_id", "source", "source_ref", "title", "text", "occurred_at"]
    return {r["chunk_id"]: r for r in tbl.search().select(columns).limit(tbl.count_rows()).to_list()}


def evaluate(engine: ClientQA, settings, today: date | None = None, categories: Iterable[str] | None = None) -> RagEval:
    today = today or settings.today()
    chunks = load_chunks(engine)
    with duck.connect(settings.warehouse_path, read_only=True) as con:
        questions = build_questions(con, chunks, today)
    if categories:
        questions = [q for q in questions if q.category in set(categories)]
    rows = []
    for q in questions:
        answer = next(p for p in engine.ask(q.client_id, q.text, today=today) if isinstance(p, Answer))
        rows.append(grade(q, answer, chunks))
    llm = engine.llm
    provider = "офлайн, без языковой модели" if llm.offline else f"модель {llm.name} {getattr(llm, 'model', '')}"
    return RagEval(rows, provider=provider.strip())


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def render(result: RagEval, show_misses: bool = False) -> str:
    lines = [f"Ответы: {result.provider}"]
    for half, title in (*HALVES.items(), (None, "весь набор")):
        lines += ["", f"Половина «{title}»" if half else "Весь набор", ""]
        head = f"| категория | вопросов | Recall@{K} | MRR | точность ответа |"
        head += " цитаты подтверждены |"
        lines += [head, "|---|---|---|---|---|---|"]
        for key, name in CATEGORIES.items():
            f = result.figures(half, key)
            if not f.questions:
                continue
            accuracy = f.absent if key == "absent" else f.accuracy
            recall, mrr = ("—", "—") if key == "absent" else (f"{f.recall:.2f}", f"{f.mrr:.2f}")
            row = f"| {name} | {f.questions} | {recall} | {mrr} | {_pct(accuracy)} |"
            lines.append(row + f" {_pct(f.supported)} |")
        f = result.figures(half)
        lines += [
            "",
            f"Вопросов: {f.questions} (ответ есть в данных: {f.answerable}, "
            f"нет в данных: {f.questions - f.answerable})",
            f"Recall@{K}: {f.recall:.2f}   MRR: {f.mrr:.2f}   точность ответов: {f.accuracy:.2f}   "
            f"«нет в данных», где его нет: {_pct(f.absent)}   доля перефразированных: {f.paraphrase:.2f}"
            + f"   цитаты подтверждены: {_pct(f.supported)}",
        ]
    failures = result.failures()
    lines += ["", "Приёмка: пройдена" if not failures else "Приёмка не пройдена: " + "; ".join(failures)]
    if show_misses:
        lines += ["", "Промахи:"]
        for g in result.rows:
            if g.correct and (g.question.absent or (g.rank is not None and g.rank <= K)):
                continue
            q = g.question
            where = "—" if q.absent else (str(g.rank) if g.rank else "нет в топ-10")
            lines.append(
                f"- [{CATEGORIES[q.category]}] {q.client_id}: «{q.text}» — нужный фрагмент: {where}; "
                f"ответ {'верный' if g.correct else 'неверный'}"
            )
            lines.append(f"    найдено: {', '.join(g.retrieved[:K]) or '—'}")
            lines.append("    ответ: " + " ".join(g.text.split())[:300])
    return "\n".join(lines)
