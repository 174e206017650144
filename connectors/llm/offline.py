"""The offline provider: extractive (no network, no keys). Its outputs are marked as extractive."""

from __future__ import annotations

import re
from collections import Counter

from connectors.llm.base import LLMError, LLMUsage

OFFLINE_LABEL = "офлайн-конспект (извлечённые фразы, без нейросети)"

_STOP = set(
    "и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот от "
    "меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж "
    "вам ведь там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтобы без "
    "будто чего раз тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один "
    "почти мой тем чтобы нее сейчас были куда зачем всех никогда можно при наконец два об другой хоть после "
    "над больше тот через эти нас про всего них какая много разве три эту моя впрочем хорошо свою этой перед "
    "иногда лучше чуть том нельзя такой им более всегда конечно всю между это да нет угу ага ладно так давайте "
    "вот значит просто очень там тут сейчас добрый день здравствуйте спасибо пожалуйста".split()
)

AGREEMENT_RE = re.compile(r"договорил|согласовал|решили|утвердил|фиксируем|подтверждаю|подтвердил|принято", re.I)
NEXT_STEP_RE = re.compile(
    r"пришл|отправ|подготов|сделаю|сделаем|созвон|проверю|проверим|пересчита|внес[уё]м|обнов|выставлю|"
    r"организую|согласую|напишу|посчитаю|передам|запланир",
    re.I,
)
RISK_RE = re.compile(
    r"проблем|жалоб|недовол|претензи|штраф|задерж|ошибк|потерял|пересорт|уйти|уход|конкурент|дорого|"
    r"расторг|не устраива|брак|сорвал|срыв|возврат|просрочк|недостач|повреж",
    re.I,
)
DUE_RE = re.compile(
    r"(до|к|в)\s+(понедельник[а-я]*|вторник[а-я]*|сред[а-я]*|четверг[а-я]*|пятниц[а-я]*|суббот[а-я]*|"
    r"воскресень[а-я]*|концу\s+(?:недели|месяца|дня)|\d{1,2}(?:[./]\d{1,2})?(?:\s+числ[а-я]*)?)|"
    r"завтра|послезавтра|сегодня|на этой неделе|на следующей неделе",
    re.I,
)


def sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?…])\s+", text.strip())
    return [p.strip() for p in parts if len(p.strip()) > 3]


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[а-яёa-z0-9]+", text.lower()) if w not in _STOP and len(w) > 2]


def rank_sentences(items: list[str], limit: int) -> list[str]:
    """Pick the `limit` most content-bearing sentences (word-frequency score), kept in original order."""
    freq = Counter(w for s in items for w in set(_words(s)))
    scored = []
    for i, s in enumerate(items):
        words = _words(s)
        if len(words) < 3:
            continue
        score = sum(freq[w] for w in words) / (len(words) ** 0.7)
        scored.append((score, i))
    best = sorted(i for _, i in sorted(scored, reverse=True)[:limit])
    return [items[i] for i in best]


def due_of(sentence: str) -> str | None:
    m = DUE_RE.search(sentence)
    return m.group(0) if m else None


class OfflineLLM:
    """Stands in for the model when no key is set; tasks detect `offline` and run extractive logic."""

    name = "offline"
    model = "extractive"
    offline = True

    def __init__(self):
        self.usage = LLMUsage()

    def complete(self, system: str, user: str, *, json_mode: bool = False) -> str:
        raise LLMError("офлайн-режим не генерирует текст: задачи используют извлекающие алгоритмы")
