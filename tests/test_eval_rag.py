"""The RAG evaluation's grading on a small world: a right passage found or missed, the expected fact in the answer
text (not only in the retrieved list), absent questions, the paraphrase check, and the GLM answers' citations."""

import re
from datetime import date, datetime

import pytest

from config.settings import get_settings
from connectors.llm import prompts
from evals.rag import (
    CATEGORIES,
    MEETING,
    Need,
    Question,
    RagEval,
    content_lemmas,
    fact_present,
    figures,
    grade,
    half_of,
    is_paraphrase,
    load_chunks,
    render,
    says_absent,
    terms,
)
from rag.answer import Answer, build_engine
from rag.embeddings import build_embedder
from rag.index import RagIndex

A, B = "10001", "20002"
TODAY = date(2026, 11, 25)


def passage(client, source, ref, when, title, text, deep=None) -> dict:
    return {
        "chunk_id": f"{ref}#0",
        "client_id": client,
        "source": source,
        "source_ref": ref,
        "deep_ref": deep or ref,
        "occurred_at": when,
        "author": None,
        "title": title,
        "text": text,
        "content_hash": ref,
    }


@pytest.fixture
def world(env):
    """An index built directly: client A's meeting about a mix-up of goods, a chat about acceptance and an e-mail
    about an invoice; client B's advertising budget."""
    rows = [
        passage(A, "meeting", "meeting:m1", datetime(2026, 11, 20, 11), "Встреча 20.11.2026 11:00: Поставки — с 00:00",
                "[00:00] Ольга: У нас опять пересорт по двум артикулам.\n"
                "[01:05] Анна: Проверим и пришлём акт сверки до пятницы.", "meeting:m1@0"),
        passage(A, "telegram", "telegram:-1001:1", datetime(2026, 11, 21, 9), "Telegram, client-10001, 21.11.2026",
                "Ольга, 21.11 09:00: Когда примете поставку на склад?\n"
                "Анна (мы), 21.11 09:05: Приёмка завтра до обеда."),
        passage(A, "email", "bitrix:7", datetime(2026, 11, 22, 15), "Письмо (входящее) 22.11.2026: Счёт за хранение",
                "Добрый день! Просим выставить счёт за хранение за октябрь."),
        passage(B, "telegram", "telegram:-2002:1", datetime(2026, 11, 22, 10), "Telegram, client-20002, 22.11.2026",
                "Ольга, 22.11 10:00: Бюджет на рекламу у нас 500 тысяч рублей в месяц."),
    ]  # fmt: skip
    index, embedder = RagIndex(env.rag_path, env.embed_dim), build_embedder(env)
    vectors = embedder.embed([f"{r['title']}\n{r['text']}" for r in rows])
    index.upsert([{**r, "vector": v.tolist()} for r, v in zip(rows, vectors, strict=True)])
    index.ensure_indices(changed=True)
    engine = build_engine(get_settings())
    assert engine.llm.offline
    return engine, load_chunks(engine)


def asked(engine, question: Question) -> Answer:
    return list(engine.ask(question.client_id, question.text, today=TODAY))[-1]


MIXUP = Question(
    A, "complaints", "Что клиент говорил про пересорт?", ((Need(MEETING, ("пересорт",)),),), ((("пересорт",),),)
)


def meeting_chunk(chunks) -> str:
    return next(cid for cid, c in chunks.items() if c["source"] == "meeting" and "пересорт" in c["text"])


def test_a_right_passage_found_and_its_fact_in_the_answer_is_a_right_answer(world):
    engine, chunks = world
    graded = grade(MIXUP, asked(engine, MIXUP), chunks)
    assert graded.rank is not None and graded.rank <= 5 and graded.correct
    f = figures([graded])
    assert f.recall == 1.0 and f.mrr == 1 / graded.rank and f.accuracy == 1.0


def test_the_fact_only_in_the_retrieved_list_is_not_an_answer(world):
    _, chunks = world
    right = meeting_chunk(chunks)
    listed = Answer(MIXUP.text, A, text="Ответ собран из данных: см. источники [1].", retrieved=[right])
    graded = grade(MIXUP, listed, chunks)
    assert graded.rank == 1 and not graded.correct, "found, but the answer text does not hold the fact"
    other_form = Answer(MIXUP.text, A, text="Клиент жаловался на пересорта двух артикулов [1].", retrieved=[right])
    assert grade(MIXUP, other_form, chunks).correct, "another word form of the fact is the fact"


def test_a_missed_passage_counts_against_recall(world):
    _, chunks = world
    chat = [cid for cid, c in chunks.items() if c["source"] == "telegram" and c["client_id"] == A]
    graded = grade(MIXUP, Answer(MIXUP.text, A, text="Про пересорт ничего", retrieved=chat), chunks)
    assert graded.rank is None
    f = figures([graded])
    assert f.recall == 0.0 and f.mrr == 0.0
    # the right passage at rank 7 is found, but not in the top 5
    late = Answer(MIXUP.text, A, text="", retrieved=[*chat, "x2", "x3", "x4", "x5", "x6", meeting_chunk(chunks)])
    assert grade(MIXUP, late, chunks).rank == 7 and figures([grade(MIXUP, late, chunks)]).recall == 0.0


def test_absent_questions_want_not_in_data_and_answerable_ones_do_not(world):
    engine, chunks = world
    absent = Question(A, "absent", "Какой у клиента бюджет на рекламу?")
    honest = asked(engine, absent)  # the budget is client B's: A's data does not hold it
    assert grade(absent, honest, chunks).correct and says_absent(honest)
    wrong = Answer(absent.text, A, text="Бюджет на рекламу — 500 тысяч [1].", found=True)
    assert not grade(absent, wrong, chunks).correct
    refused = Answer(MIXUP.text, A, text=prompts.NOT_IN_DATA, found=False, retrieved=[meeting_chunk(chunks)])
    assert not grade(MIXUP, refused, chunks).correct, "«нет» to a question the data answers is wrong"
    rows = [grade(absent, honest, chunks), grade(absent, wrong, chunks), grade(MIXUP, refused, chunks)]
    f = figures(rows)
    assert f.absent == 0.5 and f.accuracy == 0.0 and f.answerable == 1


def test_needed_passages_all_in_the_list_for_a_comparison(world):
    _, chunks = world
    meeting, chat = meeting_chunk(chunks), next(c for c in chunks if c.startswith("telegram:-1001"))
    both = Question(A, "tone", "Поменялся ли тон?", ((Need(chunk_ids=(meeting,)), Need(chunk_ids=(chat,))),))
    assert grade(both, Answer(both.text, A, retrieved=[chat, "x", meeting]), chunks).rank == 3
    assert grade(both, Answer(both.text, A, retrieved=[meeting]), chunks).rank is None


def test_numbers_and_days_are_compared_as_numbers_and_days():
    assert fact_present(("4000",), terms("примерно 4 000 единиц"))
    assert fact_present(("4000",), terms("примерно 4\u202f000 ед."))
    assert not fact_present(("4000",), terms("примерно 400 единиц"))
    assert fact_present(("четыре тысяча",), terms("это примерно четыре тысячи единиц"))
    for text in ("Встреча 01.12.2026, 14:05", "встречались 1 декабря", "2026-12-01", "на встрече 1.12"):
        assert fact_present(("d:12-01",), terms(text)), text
    assert not fact_present(("d:12-01",), terms("Встреча 30.11.2026"))


def test_the_paraphrase_check_compares_content_lemmas():
    passage = "[00:00] Ольга: У нас опять пересорт по двум артикулам."
    assert is_paraphrase("На что жаловался клиент?", [passage])
    assert not is_paraphrase("Что говорили про пересорт?", [passage])
    assert not is_paraphrase("Были ли пересорты?", [passage]), "a word form of the passage's word is the same word"
    assert not is_paraphrase("Путали ли артикул?", ["Звонок: всё хорошо.", passage]), "any right passage counts"
    assert not is_paraphrase("На что жаловался клиент?", []), "no passage to find: not a paraphrase"
    assert content_lemmas("Был ли у них какой-то пересорт?") == {"пересорт"}


def test_the_report_and_the_halves():
    assert half_of(A, "вопрос") == half_of(A, "вопрос") and {half_of(A, f"вопрос {i}") for i in range(20)} == {
        "calibration",
        "held_out",
    }
    rows = []
    for i in range(4):
        q = Question(A, "complaints", f"Вопрос {i}?", ((Need(chunk_ids=("c",)),),), ((("пересорт",),),))
        rows.append(grade(q, Answer(q.text, A, text="пересорт [1]", retrieved=["c"] if i else []), {"c": CHUNK}))
    rows.append(grade(Question(A, "absent", "Нет?"), Answer("Нет?", A, text=prompts.NOT_IN_DATA, found=False), {}))
    result = RagEval(rows, provider="offline")
    text = render(result, show_misses=True)
    assert "| претензии | 4 | 0.75 |" in text and "| нет в данных | 1 | — | — | 1.00 |" in text
    assert "Половина «калибровка»" in text and "Половина «контроль»" in text and "Весь набор" in text
    assert "Приёмка не пройдена: Recall@5 0.75 < 0.9" in text
    assert "«Вопрос 0?» — нужный фрагмент: нет в топ-10" in text
    data = result.to_dict()
    assert data["overall"]["recall"] == 0.75 and data["categories"]["absent"]["absent"] == 1.0
    assert set(data["categories"]) <= set(CATEGORIES)


CHUNK = {"chunk_id": "c", "client_id": A, "source": "meeting", "title": "Встреча", "text": "пересорт"}


def test_glm_answers_are_graded_on_their_citations(world, glm, monkeypatch):
    _, chunks = world
    monkeypatch.setenv("C360_LLM_PROVIDER", "glm")

    def reply(body):
        user = body["messages"][-1]["content"]
        numbers = dict(re.findall(r"\[(\d+)\][^\n]*\n<<<ДАННЫЕ \w+>>>\n(?:Название:[^\n]*\n)?(.*?)\n<<<", user, re.S))
        mixup = next(n for n, text in numbers.items() if "пересорт" in text)
        chat = next(n for n, text in numbers.items() if "обеда" in text or "поставку" in text)
        return (
            f"Клиент жаловался на пересорт по двум артикулам [{mixup}]. "
            f"Ещё клиент просил скидку на рекламу в Казани [{chat}]."
        )

    glm.reply = reply
    engine = build_engine(get_settings())
    assert not engine.llm.offline
    graded = grade(MIXUP, asked(engine, MIXUP), chunks)
    assert graded.correct and graded.supported == (1, 2), graded.text
    assert figures([graded]).supported == 0.5

    glm.reply = prompts.NOT_IN_DATA
    absent = Question(A, "absent", "Какой у клиента бюджет на рекламу?")
    assert grade(absent, asked(engine, absent), chunks).correct
