"""Russian text processing for retrieval, in one place: words, their lemmas (pymorphy3 with the OpenCorpora
dictionary) and the stop words.

A word the dictionary does not know (a brand, a term of the trade, a typo) gets its Snowball stem instead of a
guessed lemma, so its forms still meet. Lemmas are cached per word form: ingestion normalises millions of words.
"""

from __future__ import annotations

import functools
import re
import threading

_WORD = re.compile(r"[a-zа-яё0-9]+")  # matched on lower-cased text

# generic Russian function words (NLTK's list) and the word every question about a client carries
STOP_WORDS = frozenset(
    """и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот от меня
    еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж вам ведь там
    потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже
    себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы нее
    сейчас были куда зачем всех никогда можно при наконец два об другой хоть после над больше тот через эти нас про
    всего них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой им
    более всегда конечно всю между клиент клиента клиенту""".split()
)

_lock = threading.Lock()
_tools: tuple | None = None
_LEMMAS: dict[str, str] = {}
_MAX_CACHE = 1_000_000


def _morph():
    global _tools
    if _tools is None:
        with _lock:
            if _tools is None:
                import pymorphy3
                import Stemmer

                _tools = (pymorphy3.MorphAnalyzer(lang="ru"), Stemmer.Stemmer("russian"))
    return _tools


def tokens(text: str) -> list[str]:
    """The words and numbers of the text, lower-cased, «ё» read as «е»."""
    return _WORD.findall(text.lower().replace("ё", "е"))


def _normal(word: str) -> str:
    morph, stemmer = _morph()
    if word.isdigit():
        return word
    parse = morph.parse(word)[0]
    if parse.is_known:
        return parse.normal_form.replace("ё", "е")
    return stemmer.stemWord(word)


def lemma(word: str) -> str:
    """The dictionary form of a lower-cased word (its Snowball stem when the dictionary does not know it)."""
    hit = _LEMMAS.get(word)
    if hit is None:
        if len(_LEMMAS) > _MAX_CACHE:
            _LEMMAS.clear()
        hit = _LEMMAS[word] = _normal(word)
    return hit


def lemmas(text: str) -> list[str]:
    """Lemmas of every word of the text, stop words included."""
    get = _LEMMAS.get
    return [get(w) or lemma(w) for w in tokens(text)]


def terms(text: str) -> list[str]:
    """Lemmas of the meaningful words (what full-text search and the extractive answerer match on)."""
    get = _LEMMAS.get
    out = []
    for w in tokens(text):
        if w in STOP_WORDS:
            continue
        n = get(w) or lemma(w)
        if n not in STOP_WORDS:
            out.append(n)
    return out


def naming(word: str) -> bool:
    """A word that names a thing (a noun, a number, a word the dictionary does not know: a brand, a term), as opposed to
    a verb or an adjective that only says something about it."""
    morph, _ = _morph()
    if word.isdigit():
        return True
    parse = morph.parse(word)[0]
    return not parse.is_known or parse.tag.POS == "NOUN" or "LATN" in parse.tag


def places_named(text: str) -> set[str]:
    """Lemmas of the place names in the text: the dictionary's toponyms («Казани», «Беларусь», «Подольске»)."""
    return {lemma(w) for w in tokens(text) if _place(w)}


@functools.lru_cache(maxsize=100_000)
def _place(word: str) -> bool:
    parse = _morph()[0].parse(word)[0]
    return parse.is_known and "Geox" in parse.tag  # a guess by the ending («в телеграме») is not a place
