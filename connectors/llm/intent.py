"""The client's own words about leaving us, offline: sentences that say they look for another fulfilment, warehouse
or operator, move away, leave, end the contract or try a competitor.

Read on lemmas (pymorphy3 with the OpenCorpora dictionary, as rag/text.py does; that module sits above connectors/ in
the layers, so the analyser is held here too), per clause (commas, dashes, «но» part a sentence), so «если ничего не
изменится, будем искать другой склад» fires on its second half. A clause says it only when:

- it has a trigger: a search or move verb aimed at another provider or a competitor («смотреть другой фулфилмент»,
  «перейти к конкуренту»), a bare move of our own («уйдём», «думаем о переезде», not «перейдём на FBS» nor «уходим
  на обед»: a destination that is not a provider rules it out), the end of the contract («расторгнуть договор»,
  «не будем продлевать контракт»), or a competitor's trial or offer made to us («конкурент зовёт на тест»);
- the speaker owns it: a verb in the first person, «мы»/«я», or an impersonal «придётся / надо / вынуждены» — not «вы»
  (our staff talking to the client: «вы хотите уйти?»), not a third party («клиенты уходят к конкурентам»), not the
  past with «раньше / когда-то» (how the client came to us);
- it is not negated: «мы не планируем уходить», «не будем искать другой склад», «чтобы вам не
  пришлось искать другой фулфилмент» are not intent (a client saying they stay is no alarm; the topic still counts as
  a complaint or conflict by the other signals). «Не исключаем» and «не продлим договор» are intent.

A competitor lowering prices «на рынке» alone is not intent: it says nothing about us.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

_lock = threading.Lock()
_morph = None
_PARSES: dict[str, _Word] = {}
_MAX_CACHE = 200_000

_WORD = re.compile(r"[a-zа-яё0-9]+(?:-[a-zа-яё0-9]+)*")
# where a clause ends inside a sentence: commas, semicolons, colons, brackets, dashes, «но», «однако», «хотя»
_CLAUSE = re.compile(r"[,;:()]|\s[—–-]\s|\b(?:но|однако|хотя|зато)\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|;\s+|\n+")
# a speaker or section label at a line's start: «Ольга Смирнова: », «[10:15] Ольга (клиент): », «Жалобы: »
_LABEL = re.compile(r"^(?:\[[\d:]+\]\s*)?[^\s:.!?,]+(?:\s+[^\s:.!?,]+){0,3}:\s+")

# another provider: «другой / иной / новый / альтернативный» before one of these, within a few words
_OTHER = frozenset({"другой", "иной", "новый", "альтернативный", "сторонний"})
_PROVIDERS = frozenset(
    """фулфилмент фф ff fulfillment 3pl склад оператор подрядчик исполнитель компания партнёр партнер логист
    фулфилмент-оператор""".split()
)
_COMPETITOR = frozenset({"конкурент", "конкурентка"})
_MARKETPLACE = re.compile(r"wildberries|ozon|озон|вб\b|wb\b|маркет|мегамаркет|\bрц\b|распределительн", re.I)

# looking at, choosing, trying or moving to another provider
_SEARCH = frozenset(
    """искать поискать подыскивать подыскать найти находить смотреть посмотреть присматриваться присмотреться
    рассматривать рассмотреть выбирать выбрать подбирать подобрать тестировать протестировать пробовать
    попробовать сравнивать сравнить переходить перейти уходить уйти переезжать переехать перевозить
    перевезти переводить перевести думать подумать задумываться задуматься обращаться обратиться
    договариваться договориться переезд уход переход поиск вариант съехать съезжать менять сменить поменять
    смена замена заменить переговоры""".split()
)
# changing the provider itself: «сменить фулфилмент», «поменяем склад» (no «другой» needed)
_CHANGE = frozenset({"менять", "сменить", "поменять", "смена", "замена", "заменить"})
# leaving as such, without saying where to
_LEAVE = frozenset({"уйти", "уходить", "уход", "переезд", "переезжать", "переехать", "съехать", "съезжать"})
_LEAVE_NOUNS = frozenset({"уход", "переезд"})
# verbs a bare move noun needs: «думаем о переезде», «рассматриваем уход»
_CONSIDER = frozenset(
    """думать подумать задумываться задуматься рассматривать рассмотреть планировать запланировать обсуждать
    обсудить готовить готовиться решить решать исключать вопрос мысль""".split()
)
# ending the contract: these two need no object; the others do
_TERMINATE_ALONE = frozenset({"расторгнуть", "расторгать", "расторжение"})
_TERMINATE = frozenset(
    """прекратить прекращать прекращение завершить завершать закончить заканчивать разорвать разрывать
    остановить свернуть сворачивать""".split()
)
_CONTRACT = frozenset({"договор", "контракт", "сотрудничество", "соглашение", "оферта"})
_RENEW = frozenset({"продлевать", "продлить", "продление", "пролонгировать", "пролонгация"})
# a competitor's trial and an offer or invitation: an invitation to us («нас / нам») or to a trial, or our own trial
_TRIAL = frozenset({"тест", "тестовый", "тестирование", "протестировать", "тестировать", "пробный"})
_TRY = frozenset({"пробовать", "попробовать"})
_OFFER = frozenset(
    """предложение предложить предлагать звать позвать приглашать пригласить зазывать переманивать переманить
    сманивать""".split()
)
# the speaker owns the clause without a first-person verb: «придётся», «надо», «вынуждены», «готовы»
_IMPERSONAL = frozenset(
    """прийтись приходиться надо нужно необходимо пора стоить хотеться вынудить готовый должный решено""".split()
)
_NEGATION = frozenset({"не", "ни", "нет", "никуда", "никогда", "нигде"})
_PAST_MARKERS = frozenset({"раньше", "прежде", "когда-то", "давно", "некогда", "прошлый"})
_SOURCE_PREPOSITIONS = frozenset({"от", "из"})
_DESTINATION_PREPOSITIONS = frozenset({"в", "во", "на", "к", "ко", "за"})


@dataclass(frozen=True)
class _Word:
    text: str
    lemma: str
    pos: str | None
    tags: frozenset[str]
    readings: frozenset[str]  # the lemmas of every parse: «другом» is «друг» first, «другой» too


def _analyser():
    global _morph
    if _morph is None:
        with _lock:
            if _morph is None:
                import pymorphy3

                _morph = pymorphy3.MorphAnalyzer(lang="ru")
    return _morph


def _parse(word: str) -> _Word:
    hit = _PARSES.get(word)
    if hit is None:
        if len(_PARSES) > _MAX_CACHE:
            _PARSES.clear()
        parses = _analyser().parse(word)
        p = parses[0]
        grammemes = frozenset(str(p.tag).replace(" ", ",").split(","))
        readings = frozenset(x.normal_form.replace("ё", "е") for x in parses)
        hit = _PARSES[word] = _Word(word, p.normal_form.replace("ё", "е"), p.tag.POS, grammemes, readings)
    return hit


def _words(clause: str) -> list[_Word]:
    return [_parse(w) for w in _WORD.findall(clause.lower().replace("ё", "е"))]


def _norm(names: frozenset[str]) -> frozenset[str]:
    return frozenset(n.replace("ё", "е") for n in names)


_PROVIDERS, _IMPERSONAL = _norm(_PROVIDERS), _norm(_IMPERSONAL)


def _provider(w: _Word) -> bool:
    return w.lemma in _PROVIDERS or w.lemma.startswith(("фулфилмент", "фулфилмет", "фулфил", "fulfil"))


def _targets(words: list[_Word], clause: str) -> list[int]:
    """Positions of «another provider» (the noun) or of a competitor: not where the client came from («от другого
    склада», «из другого фулфилмента»), nor where something else happened («нашли пересорт на другом складе») unless
    it is a trial there («тестируем хранение на другом складе»)."""
    trial = any(w.lemma in _TRIAL or w.lemma in _TRY for w in words)
    out = []
    for i, w in enumerate(words):
        if w.lemma in _COMPETITOR:
            start = i
        elif _provider(w) and not (w.lemma == "склад" and _MARKETPLACE.search(clause)):
            start = next((j for j in range(max(0, i - 3), i) if words[j].readings & _OTHER), None)
            if start is None:
                continue
        else:
            continue
        before = words[start - 1] if start else None
        if before and (before.lemma in _SOURCE_PREPOSITIONS or (before.text == "с" and "gent" in words[start].tags)):
            continue
        if before and before.text in ("в", "во", "на") and "loct" in w.tags and not trial:
            continue
        out.append(i)
    return out


def _owned(words: list[_Word]) -> bool:
    """The speaker speaks of themselves: a first-person verb, «мы» or «я», or an impersonal «придётся»."""
    return any(("1per" in w.tags and (w.pos in ("VERB", "NPRO"))) or w.lemma in _IMPERSONAL for w in words)


def _addressed(words: list[_Word]) -> bool:
    """Said to the listener: «вы» as the subject, a verb in the second person, an imperative («давайте», «ищите»)."""
    return any(
        ("2per" in w.tags and (w.pos == "VERB" or (w.pos == "NPRO" and "nomn" in w.tags))) or "impr" in w.tags
        for w in words
    )


def _third_party(words: list[_Word], trigger: int) -> bool:
    """The trigger's verb is someone else's: third person («уходят», «ищут»), or the past without «мы»/«я»."""
    w = words[trigger]
    if w.pos != "VERB":
        return False
    if "3per" in w.tags and "Impe" not in w.tags:
        return True
    return "past" in w.tags and not any(x.pos == "NPRO" and "1per" in x.tags and "nomn" in x.tags for x in words)


def _negated(words: list[_Word]) -> bool:
    """A negation anywhere in the clause («не будем искать», «расторгать не хотим»), but not «не исключаем» nor a
    «не … ли» question."""
    if any(w.lemma == "ли" for w in words):
        return False
    return any(
        w.lemma in _NEGATION and not (i + 1 < len(words) and words[i + 1].lemma in {"исключать", "исключено"})
        for i, w in enumerate(words)
    )


def _leave_goes_elsewhere(words: list[_Word], i: int) -> bool:
    """«уходим на обед», «перейдём на FBS», «уход за кожей», «ушли к вам»: a destination right after it that is not
    another provider."""
    for j in range(i + 1, min(len(words), i + 3)):
        if words[j].lemma in _DESTINATION_PREPOSITIONS:
            rest = words[j + 1 : j + 4]
            return not any(_provider(x) or x.lemma in _COMPETITOR for x in rest)
    return False


def _trigger(words: list[_Word], clause: str) -> int | None:
    """Position of the first word that makes the clause an intent to leave, whoever says it; None when none does."""
    lemmas = [w.lemma for w in words]
    targets = _targets(words, clause)
    found: list[int] = []
    # 1. searching, trying, moving to another provider or a competitor; changing the provider
    for t in targets:
        found += [i for i, x in enumerate(lemmas) if x in _SEARCH and i != t]
    found += [i for i, x in enumerate(lemmas) if x in _CHANGE and any(_provider(w) for w in words)]
    # 2. leaving, not somewhere else; a bare noun needs «думаем о …»
    for i, x in enumerate(lemmas):
        if x in _LEAVE and not _leave_goes_elsewhere(words, i):
            if x not in _LEAVE_NOUNS or any(y in _CONSIDER for y in lemmas):
                found.append(i)
    # 3. the contract ends, or is not renewed (checked apart: its negation is the point)
    for i, x in enumerate(lemmas):
        if x in _TERMINATE_ALONE or (x in _TERMINATE and any(y in _CONTRACT for y in lemmas[i + 1 :])):
            found.append(i)
    return min(found) if found else None


def _competitor_offer(words: list[_Word], clause: str) -> int | None:
    """«Конкурент зовёт на тест», «другой фулфилмент предложил нам условия», «тестируем конкурента»: where the offer
    or the trial is, or None. A competitor's test of its own («конкурент провёл тест упаковки») is not one."""
    if not _targets(words, clause):
        return None
    lemmas = [w.lemma for w in words]
    to_us = any(w.pos == "NPRO" and "1per" in w.tags for w in words)
    trial = any(x in _TRIAL for x in lemmas)
    for i, x in enumerate(lemmas):
        if (x in _OFFER and (to_us or trial)) or ((x in _TRIAL or x in _TRY) and _owned(words)):
            return i
    return None


def _not_renewed(words: list[_Word]) -> bool:
    lemmas = [w.lemma for w in words]
    for x in lemmas:
        if x in _RENEW and any(y in _CONTRACT for y in lemmas) and any(y in _NEGATION for y in lemmas):
            return True
    return False


def clause_intent(clause: str) -> bool:
    """Whether one clause says the speaker means to leave us (see the module's docstring for the rules)."""
    words = _words(clause)
    if not words or _addressed(words) or any(w.text in _PAST_MARKERS or w.lemma in _PAST_MARKERS for w in words):
        return False
    if _not_renewed(words):
        return _owned(words)
    if (i := _competitor_offer(words, clause)) is not None and not _negated(words):
        return True
    i = _trigger(words, clause)
    if i is None or _negated(words) or _third_party(words, i):
        return False
    return _owned(words)


def clauses(sentence: str) -> list[str]:
    return [c.strip() for c in _CLAUSE.split(sentence) if c and c.strip()]


def quote_sentences(text: str) -> list[str]:
    """The text's sentences as they can be quoted: per line, without a speaker or section label, split at . ! ? …
    and at «; » (a summary's list)."""
    out = []
    for line in text.splitlines():
        for part in _SENTENCE.split(line.strip()):
            part = _LABEL.sub("", part.strip()).strip(" ;-—–")
            if len(part) > 3:
                out.append(part)
    return out


def leaving_intent(text: str, limit: int = 3) -> list[str]:
    """The sentences of `text` in which the speaker says they mean to leave us, verbatim, at most `limit`."""
    found = []
    for sentence in quote_sentences(text):
        if sentence not in found and any(clause_intent(c) for c in clauses(sentence)):
            found.append(sentence)
    return found[:limit]
