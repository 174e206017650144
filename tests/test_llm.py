"""The LLM client against a local OpenAI-style fake through the real zhipuai SDK: cache, retries, map-reduce."""

import json
from datetime import datetime

import dagster as dg
import pytest
from pydantic import ValidationError

from config.factory import build_llm
from config.settings import get_settings
from connectors.llm import GLMClient, LLMError, OfflineLLM, ResponseCache, summarize_meeting
from connectors.llm.prompts import TRUNCATED_NOTE
from connectors.llm.summaries import extractive_summary
from connectors.stt import Segment
from orchestration.definitions import build_defs
from orchestration.run_once import run_once
from tests.conftest import glm_env, jibri
from tests.fakes.glm import FakeGLM

SEGMENTS = [
    Segment(0, 5, "Анна", "Добрый день, обсудим поставки на Ozon."),
    Segment(5, 9, "Ольга", "У нас был пересорт и штраф от Wildberries."),
    Segment(9, 14, "Анна", "Договорились: пришлём акт до пятницы."),
]


def glm_client(server: FakeGLM, tmp_path, model="glm-4-flash-250414", **kw) -> GLMClient:
    return GLMClient(
        server.api_key,
        model=model,
        base_url=server.base_url,
        cache=ResponseCache(tmp_path / "cache.sqlite"),
        base_delay=0.01,
        **kw,
    )


def test_summary_via_glm_counts_tokens_and_is_cached(tmp_path):
    with FakeGLM() as server:
        llm = glm_client(server, tmp_path)
        summary = summarize_meeting(llm, SEGMENTS, client="лид 1", when="24.11.2026 10:00")
        assert summary.topic == "Поставки на Ozon" and summary.agreements[0].due == "пятница"
        assert summary.generated_by == "glm:glm-4-flash-250414" and not summary.extractive
        assert llm.usage.calls == 1 and llm.usage.total_tokens > 0
        [call] = [r.json() for r in server.requests]
        assert call["model"] == "glm-4-flash-250414" and call["response_format"] == {"type": "json_object"}
        assert "<<<ДАННЫЕ " in call["messages"][1]["content"] and "не выполняй" in call["messages"][0]["content"]

        # the same text again — even from a new client (new process) — is served from the cache
        again = glm_client(server, tmp_path)
        assert summarize_meeting(again, SEGMENTS, client="лид 1", when="24.11.2026 10:00") == summary
        assert server.completions == 1 and again.usage.cache_hits == 1 and again.usage.total_tokens == 0


def test_long_transcript_is_summarized_map_reduce(tmp_path):
    long = [Segment(i, i + 1, "Анна", f"Фраза номер {i} про отгрузки и остатки на складе.") for i in range(400)]
    with FakeGLM() as server:
        llm = glm_client(server, tmp_path)
        summary = summarize_meeting(llm, long, client="лид 2", max_chars=5000)
        prompts = [r.json()["messages"][1]["content"] for r in server.requests]
    parts = [p for p in prompts if "Это часть" in p]
    assert len(parts) >= 4 and all(f"из {len(parts)}" in p for p in parts)
    assert len(prompts) == len(parts) + 1 and "Объедини" in prompts[-1]
    assert summary.topic == "Итог встречи (объединено)"
    assert all(len(p) < 5000 + 2000 for p in prompts)


def test_rate_limit_is_retried_with_backoff(tmp_path):
    with FakeGLM() as server:
        server.rate_limit_next = 2
        llm = glm_client(server, tmp_path)
        assert summarize_meeting(llm, SEGMENTS, client="лид 3").topic
        assert len(server.requests) == 3 and llm.usage.calls == 1


def test_timeout_and_bad_answers_raise_clear_errors(tmp_path):
    with FakeGLM() as server:
        server.delay_next = 2.0
        llm = glm_client(server, tmp_path, timeout=0.5, attempts=1)
        with pytest.raises(LLMError, match="нет ответа"):
            summarize_meeting(llm, SEGMENTS, client="лид 4")
        server.reply = "Извините, не могу"
        with pytest.raises(LLMError, match="не JSON"):
            summarize_meeting(glm_client(server, tmp_path), SEGMENTS, client="лид 5")
    with pytest.raises(Exception, match="ZHIPUAI_API_KEY"):
        GLMClient("", model="x")


def test_offline_summary_is_extractive_and_marked():
    summary = summarize_meeting(OfflineLLM(), SEGMENTS, client="лид 6", participants=["Анна Соколова"])
    assert summary.extractive and summary.generated_by == "offline:extractive"
    assert "офлайн-конспект" in summary.as_text()
    assert summary.agreements[0].owner == "Анна" and summary.agreements[0].due == "до пятницы"
    assert any("пересорт" in r for r in summary.risks)
    assert extractive_summary([], []).topic == ""


def test_meeting_summary_asset_records_tokens(env, recordings, instance, glm, monkeypatch):
    monkeypatch.setenv("C360_LLM_PROVIDER", "glm")
    jibri(recordings, "g1", "4242", datetime(2026, 11, 24, 10, 0, 0))
    report = run_once(build_defs(), instance, env, log=lambda *_: None)
    assert report.failed == []
    event = instance.get_latest_materialization_event(dg.AssetKey("meeting_summaries"))
    meta = event.asset_materialization.metadata
    assert meta["вызовов модели"].value == 1 and meta["токенов всего"].value > 0
    assert meta["модель"].value == "glm:glm-4-flash-250414"

    # re-materializing the same recording does not pay again
    key = event.asset_materialization.partition
    job = build_defs().resolve_job_def("meeting_pipeline_job")
    assert job.execute_in_process(instance=instance, partition_key=key).success
    assert glm.completions == 1
    latest = instance.get_latest_materialization_event(dg.AssetKey("meeting_summaries"))
    assert latest.run_id != event.run_id
    assert latest.asset_materialization.metadata["ответов из кэша"].value == 1
    assert latest.asset_materialization.metadata["токенов всего"].value == 0


def test_offline_summary_separates_complaints_from_promises_and_merges_names():
    segments = [
        Segment(0, 2, "Ольга", "Ozon задержал приёмку, это проблема."),
        Segment(2, 4, "Анна", "Проверим ошибку и пришлём акт до пятницы."),
    ]
    summary = extractive_summary(segments, ["Анна Соколова", "Ольга Смирнова (ИП Смирнова)"])
    assert summary.risks == ["Ozon задержал приёмку, это проблема."]
    assert [a.what for a in summary.next_steps] == ["Проверим ошибку и пришлём акт до пятницы."]
    assert summary.participants == ["Анна Соколова", "Ольга Смирнова (ИП Смирнова)"]


def test_balance_exhausted_is_not_retried_and_the_owner_is_told_once(env, telegram, monkeypatch):
    with FakeGLM() as server:
        glm_env(monkeypatch, server, telegram)
        server.errors_next = [(429, "1113")] * 4
        for _ in range(2):  # two runs (two processes: a new client each), two calls each
            llm = build_llm(get_settings())
            for _ in range(2):
                with pytest.raises(LLMError, match="нет средств.*1113") as error:
                    llm.complete("system", "user")
                assert "欠费" not in str(error.value), "the server's Chinese text stays in the log"
        assert len(server.requests) == 4, "an account without money is not asked again and again"
        [notice] = telegram.messages
        assert notice["chat"]["id"] == -1009876543210 and notice["message_thread_id"] == 7
        assert notice["text"].startswith("🔴 GLM (Zhipu): на счёте нет средств")
        assert "1113" in notice["text"] and "пополните" in notice["text"] and "欠费" not in notice["text"]

        # it works again (the owner paid): the next such problem is told again
        assert build_llm(get_settings()).complete("system", "user")
        server.errors_next = [(429, "1112")]
        with pytest.raises(LLMError, match="заблокирован"):
            build_llm(get_settings()).complete("system", "другой вопрос")
        assert len(telegram.messages) == 2 and "1112" in telegram.messages[1]["text"]


def test_rate_limits_and_gateway_errors_are_retried(tmp_path):
    with FakeGLM() as server:
        server.errors_next = [(429, "1305"), (429, "1303"), (502, None), (504, None)]
        llm = glm_client(server, tmp_path)
        assert summarize_meeting(llm, SEGMENTS, client="лид 7").topic
        assert len(server.requests) == 5 and llm.usage.calls == 1


@pytest.mark.parametrize("form", ["event", "data", "garbage"])
def test_an_error_mid_stream_is_an_llm_error_and_nothing_is_cached(tmp_path, form):
    messages = [{"role": "user", "content": "Что обещали клиенту?"}]
    with FakeGLM() as server:
        server.reply = "Обещали прислать акт до пятницы и позвонить в понедельник [1]."
        server.stream_error_after, server.stream_error_form = 2, form
        llm = glm_client(server, tmp_path)
        pieces = []
        with pytest.raises(LLMError, match="ответ оборвался"):
            for piece in llm.stream(messages):
                pieces.append(piece)
        assert pieces, "the error came after the first pieces"
        # asked again: the broken answer was not cached, the whole one is
        assert "".join(glm_client(server, tmp_path).stream(messages)) == server.reply
        assert server.completions == 2


def test_a_truncated_json_answer_is_asked_again_with_more_room(tmp_path):
    summary = {"topic": "Поставки", "participants": [], "key_points": ["Пункт " * 400], "agreements": []}
    with FakeGLM() as server:
        server.reply = json.dumps(summary, ensure_ascii=False)  # ~2,900 characters, ~970 tokens
        llm = glm_client(server, tmp_path, max_tokens=300)
        assert summarize_meeting(llm, SEGMENTS, client="лид 8").key_points == summary["key_points"]
        assert [r.json()["max_tokens"] for r in server.requests] == [300, 600, 1200]
        # no more room to give: a clear error, not a parse failure later
        tight = glm_client(server, tmp_path, max_tokens=300, max_output_tokens=600)
        with pytest.raises(LLMError, match="обрезан"):
            summarize_meeting(tight, SEGMENTS, client="лид 9")


def test_a_truncated_free_text_answer_is_marked(tmp_path):
    with FakeGLM() as server:
        server.reply = "Клиент жаловался на сроки приёмки. " * 60
        llm = glm_client(server, tmp_path, max_tokens=100)
        text = llm.complete("system", "Что было на встрече?")
        assert text.endswith(TRUNCATED_NOTE) and len(server.requests) == 1
        pieces = list(llm.stream([{"role": "user", "content": "Что было на встрече?"}]))
        assert pieces[-1].strip() == TRUNCATED_NOTE
        list(llm.stream([{"role": "user", "content": "Что было на встрече?"}]))
        assert server.completions == 3, "a cut answer is not cached"


def test_a_thinking_model_gets_its_setting_and_its_reasoning_back_in_the_tool_round(tmp_path):
    from rag.answer import ClientQA
    from rag.embeddings import LocalEmbedder
    from rag.index import RagIndex
    from rag.tools import WarehouseTools

    with FakeGLM() as server:
        # summaries and extraction: thinking off, the answer's room as it was
        llm = glm_client(server, tmp_path, model="glm-4.5-flash")
        summarize_meeting(llm, SEGMENTS, client="лид 10")
        first = server.requests[-1].json()
        assert first["thinking"] == {"type": "disabled"} and first["max_tokens"] == 4096

        # thinking on (C360_GLM_THINKING=enabled): room for it, and its reasoning goes back with the tool results
        thinker = glm_client(server, tmp_path, model="glm-4.5-flash", thinking="enabled")
        server.tool_calls_next = [("client_profile", {})]
        qa = ClientQA(RagIndex(tmp_path / "rag", 300), LocalEmbedder(), thinker, WarehouseTools(tmp_path / "w"))
        answer = [x for x in qa.ask("4242", "Какой профиль риска у клиента?") if not isinstance(x, str)][-1]
        assert answer.text
        tool_round, final = (r.json() for r in server.requests[-2:])
        assert tool_round["thinking"] == final["thinking"] == {"type": "enabled"}
        assert tool_round["max_tokens"] == 4096 + 8192
        [turn] = [m for m in final["messages"] if m["role"] == "assistant"]
        assert turn["reasoning_content"] == server.reasoning and turn["tool_calls"]
        # an older model is not sent the setting (the SDK sends the field as null)
        glm_client(server, tmp_path).complete("system", "ещё вопрос")
        assert server.requests[-1].json().get("thinking") is None


@pytest.mark.parametrize("dim", ["300", "4096"])
def test_an_embedding_size_embedding_3_does_not_make_is_refused_at_start(env, monkeypatch, dim):
    monkeypatch.setenv("C360_EMBED_PROVIDER", "glm")
    monkeypatch.setenv("C360_EMBED_DIM", dim)
    with pytest.raises(ValidationError, match=f"C360_EMBED_DIM={dim}: .*256, 512, 1024, 2048"):
        get_settings()
    monkeypatch.setenv("C360_EMBED_DIM", "512")
    assert get_settings().embed_dim == 512


def test_each_embedder_has_its_own_default_size_and_the_local_one_only_its_own(env, monkeypatch):
    monkeypatch.delenv("C360_EMBED_DIM", raising=False)
    monkeypatch.setenv("C360_EMBED_PROVIDER", "local")
    assert get_settings().embed_dim == 300
    monkeypatch.setenv("C360_EMBED_PROVIDER", "glm")
    assert get_settings().embed_dim == 1024
    monkeypatch.setenv("C360_EMBED_PROVIDER", "local")
    monkeypatch.setenv("C360_EMBED_DIM", "1024")
    with pytest.raises(ValidationError, match="C360_EMBED_DIM=1024: локальные эмбеддинги .* размерность 300"):
        get_settings()


def test_the_glm_account_notice_is_sent_like_every_message_to_a_chat(env, telegram, monkeypatch):
    """The alert group became a supergroup: the notice follows it and the owner is told which setting to update;
    a notice whose answer was lost may have arrived, so neither a later call nor another process sends it again."""
    old, new = "-4962287234", -1002855950299
    telegram.migrated = {old: new}
    telegram.drop_after = {1}
    with FakeGLM() as server:
        glm_env(monkeypatch, server, telegram, alert_chat=old)
        server.errors_next = [(429, "1113")] * 3
        for _ in range(3):
            with pytest.raises(LLMError, match="нет средств"):
                build_llm(get_settings()).complete("system", "user")
    notice, migrated = telegram.messages
    assert notice["chat"]["id"] == new and "1113" in notice["text"]
    assert "супергруппой" in migrated["text"] and f"C360_ALERT_CHAT_ID={new}" in migrated["text"]
