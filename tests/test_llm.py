"""The LLM client against a local OpenAI-style fake through the real zhipuai SDK: cache, retries, map-reduce."""

from datetime import datetime

import dagster as dg
import pytest

from connectors.llm import GLMClient, LLMError, OfflineLLM, ResponseCache, summarize_meeting
from connectors.llm.summaries import extractive_summary
from connectors.stt import Segment
from orchestration.definitions import build_defs
from orchestration.run_once import run_once
from tests.conftest import jibri
from tests.fakes.glm import FakeGLM

SEGMENTS = [
    Segment(0, 5, "Анна", "Добрый день, обсудим поставки на Ozon."),
    Segment(5, 9, "Ольга", "У нас был пересорт и штраф от Wildberries."),
    Segment(9, 14, "Анна", "Договорились: пришлём акт до пятницы."),
]


def glm_client(server: FakeGLM, tmp_path, **kw) -> GLMClient:
    return GLMClient(
        server.api_key,
        model="glm-4-flash-250414",
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
