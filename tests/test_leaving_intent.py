"""The client's words about leaving us: the offline extractor on word forms and paraphrases (and what it must not
take for intent), the signals' shape from GLM, and the meeting's and chat day's «risks» that list them first."""

import json
from datetime import datetime

import pytest

from connectors.llm import GLMClient, ResponseCache, prompts
from connectors.llm.chats import extractive_chat_summary
from connectors.llm.intent import leaving_intent, quote_sentences
from connectors.llm.signals import InteractionSignals, analyze_interaction, lexical_signals
from connectors.llm.summaries import extractive_summary
from connectors.stt import Segment
from tests.fakes.glm import FakeGLM

INTENT = [
    # another provider, in several word forms and verbs
    "Мы уже присматриваемся к другим фулфилментам.",
    "Если сроки опять сорвёте, начнём искать иной склад.",
    "Ещё пара таких недель — и придётся подыскивать другого оператора.",
    "Мы тестируем другой фулфилмент на части ассортимента.",
    "Я нашла другой склад, там дешевле.",
    "Будем вынуждены сменить фулфилмент.",
    # moving, leaving
    "Всерьёз думаем о переезде.",
    "Не исключаем переезд на новый склад в январе.",
    "Если так продолжится, мы уйдём.",
    "Со следующего месяца переезжаем к конкуренту.",
    "Нам, видимо, придётся уходить от вас.",
    # the contract
    "Хотим расторгнуть договор с первого числа.",
    "Готовим письмо о расторжении договора.",
    "Контракт продлевать не будем.",
    # a competitor's trial or offer to us
    "Конкурент позвал нас на тестовую поставку.",
    "Нам предложили пробный месяц у конкурента, и мы, скорее всего, согласимся.",
    "Другой фулфилмент предложил нам хранение вдвое дешевле, рассматриваем.",
    "Сейчас пробуем конкурента на небольшой партии.",
    "Тестируем хранение на другом складе.",
]

NOT_INTENT = [
    # a client saying they stay is not an alarm (its complaint still counts by the other signals)
    "Мы не планируем уходить.",
    "Никуда мы от вас не уйдём.",
    "Мы пока не ищем другой склад.",
    "Наш договор с вами расторгать не хотим.",
    "Продлим договор ещё на год.",
    # the market, not us
    "Конкурент снизил цены на рынке.",
    "Конкуренты предлагают низкие цены.",
    "Конкурент провёл тест новой упаковки.",
    # another warehouse as a place where something happened, not where the client goes
    "Мы нашли пересорт на другом складе.",
    # someone else, or the past
    "Многие селлеры уходят к другим фулфилментам.",
    "Один наш знакомый ушёл к конкуренту.",
    "Раньше мы работали с другим фулфилментом и ушли от них к вам.",
    "Мы перешли к вам из другого фулфилмента в прошлом году.",
    # our staff talking to the client, our reassurances
    "Вы хотите уйти к конкурентам?",
    "Понимаю, что вы рассматриваете другой фулфилмент.",
    "Если захотите уйти, мы поможем с вывозом.",
    "Мы сделаем всё, чтобы вам не пришлось искать другой фулфилмент.",
    "Давайте не доводить до переезда, я сам проверю каждую отгрузку.",
    # moves that are not away from us
    "Хотим перейти на FBS с первого числа.",
    "Уходим на обед, вернёмся в два.",
    "Мы переезжаем в новый офис.",
    "Поставку перевезём на другой склад Ozon.",
    "Товар уйдёт на склад Wildberries завтра.",
    "Продаём средства для ухода за кожей.",
]


@pytest.mark.parametrize("sentence", INTENT)
def test_intent_to_leave_is_found_whatever_the_words(sentence):
    assert leaving_intent(sentence) == [sentence]


@pytest.mark.parametrize("sentence", NOT_INTENT)
def test_what_is_not_intent_to_leave(sentence):
    assert leaving_intent(sentence) == []


def test_quotes_are_the_sentences_without_labels_and_in_order():
    text = (
        "Ирина Петрова: Приёмка опять задержалась на три дня. Если до пятницы не разберётесь, будем смотреть иной "
        "склад.\nАнна: Понимаю, разберёмся.\nЖалобы: Пересорт по двум артикулам; Конкурент зовёт нас на тест."
    )
    assert quote_sentences(text)[:2] == ["Приёмка опять задержалась на три дня.", quote_sentences(text)[1]]
    assert leaving_intent(text) == [
        "Если до пятницы не разберётесь, будем смотреть иной склад.",
        "Конкурент зовёт нас на тест.",
    ]
    assert leaving_intent(text, limit=1) == ["Если до пятницы не разберётесь, будем смотреть иной склад."]


def test_offline_signals_carry_the_quote_and_count_it_as_negative_and_conflict():
    s = lexical_signals("Спасибо за отчёт. Честно говоря, думаем переехать к другому оператору.")
    assert s.leaving_intent == ["Честно говоря, думаем переехать к другому оператору."]
    assert s.conflict and s.sentiment <= 0 and s.extractive
    assert lexical_signals("Спасибо, всё отлично. Никуда уходить не собираемся.").leaving_intent == []


def test_the_model_answer_shape_is_tolerated():
    s = InteractionSignals.model_validate({"leaving_intent": "«Будем искать другой склад.»"})
    assert s.leaving_intent == ["Будем искать другой склад."]
    s = InteractionSignals.model_validate({"leaving_intent": ["Уйдём.", "  Уйдём. ", None, "а", "б", "в"]})
    assert s.leaving_intent == ["Уйдём.", "а", "б"]
    assert InteractionSignals.model_validate({}).leaving_intent == []


def test_glm_is_asked_for_the_clients_own_words_and_they_come_back(tmp_path):
    quote = "Если так пойдёт и дальше, переведём товар к другому оператору."
    with FakeGLM() as server:
        server.reply = json.dumps({"sentiment": -0.5, "leaving_intent": [quote]}, ensure_ascii=False)
        llm = GLMClient(
            server.api_key,
            model="glm-4-flash-250414",
            base_url=server.base_url,
            cache=ResponseCache(tmp_path / "c.sqlite"),
            base_delay=0.01,
        )
        s = analyze_interaction(llm, "Клиент: " + quote, what="Звонок", client="лид 1")
        [call] = [r.json() for r in server.requests]
    assert s.leaving_intent == [quote] and not s.extractive
    system = call["messages"][0]["content"]
    assert '"leaving_intent"' in system and "дословно" in system and "наших сотрудников" in system
    assert "risks" in prompts.MEETING_SYSTEM and "первыми" in prompts.MEETING_SYSTEM
    assert "уйти от нас" in prompts.CHAT_DAY_SYSTEM


def test_the_meeting_risks_list_the_words_about_leaving_first():
    segments = [
        Segment(0, 5, "Анна", "Добрый день, обсудим отгрузки на Ozon."),
        Segment(5, 9, "Ирина", "У нас снова пересорт, Wildberries выставил штраф."),
        Segment(9, 14, "Ирина", "Честно скажу: присматриваемся к другому фулфилменту."),
        Segment(14, 18, "Анна", "Понимаю, пришлём акт до пятницы и всё исправим."),
    ]
    summary = extractive_summary(segments, ["Анна", "Ирина"])
    assert summary.risks[0] == "присматриваемся к другому фулфилменту."
    assert "У нас снова пересорт, Wildberries выставил штраф." in summary.risks
    assert "Риски и недовольство:\n- присматриваемся к другому фулфилменту." in summary.as_text()


def test_a_chat_day_summary_lists_the_clients_words_about_leaving_first():
    at = datetime(2026, 11, 20, 12, 0)
    messages = [
        {"direction": "client", "text": "Опять задержали приёмку, штраф от Ozon.", "local_time": at},
        {"direction": "client", "text": "Конкуренты зовут нас на тест, подумываем.", "local_time": at},
        {
            "direction": "staff",
            "text": "Мы не хотим, чтобы вы искали другой фулфилмент, всё исправим.",
            "local_time": at,
        },
    ]
    summary = extractive_chat_summary(messages)
    assert summary.complaints[0] == "Конкуренты зовут нас на тест, подумываем."
    assert not any("другой фулфилмент" in c for c in summary.complaints), "our staff's words are not the client's"
    # the day's text is what its signals are read from: the quote survives the summary
    assert lexical_signals(summary.as_text()).leaving_intent == ["Конкуренты зовут нас на тест, подумываем."]
