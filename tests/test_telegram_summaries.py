"""Daily per-client chat summaries (day boundaries in the team's timezone) and their place in the report."""

import json
from datetime import date

import dagster as dg

from assets.reports.assets import daily_curator_report
from assets.telegram.assets import load_day_messages, telegram_daily_summaries
from orchestration.resources import all_resources
from tests.conftest import build_views
from tests.fixtures import telegram_exports as fx
from tests.test_telegram_export import import_file, tg_env, write  # noqa: F401  (fixture)
from warehouse.duck import connect, fetch_dicts


def summarize(instance, day):
    return dg.materialize([telegram_daily_summaries], partition_key=day, resources=all_resources(), instance=instance)


def summaries(settings):
    with connect(settings.warehouse_path, read_only=True) as con:
        return fetch_dicts(con, "select * from raw.telegram_daily_summaries order by day, client_id")


def test_offline_day_summary_counts_the_moscow_day(tg_env, instance, tmp_path):  # noqa: F811
    import_file(instance, write(tmp_path / "e" / "result.json", fx.single_chat_export()))
    assert summarize(instance, "2026-11-24").success
    [day1] = summaries(tg_env)
    # 100–106 and 110 (23:30 Moscow) are the 24th; 111 (00:30 Moscow) is the 25th; service/unknown are not chat text
    assert (day1["client_id"], day1["messages"], day1["client_messages"], day1["staff_messages"]) == ("12345", 8, 7, 1)
    with connect(tg_env.warehouse_path, read_only=True) as con:
        next_day = load_day_messages(con, date(2026, 11, 25), tg_env.tz)
    assert [(m["message_id"], f"{m['local_time']:%H:%M}") for m in next_day] == [(111, "00:30")]
    s = json.loads(day1["summary"])
    assert s["tone"] == "негативный" and any("пересорт" in c for c in s["complaints"])
    assert s["promises"] == ["Проверим и пришлём акт до пятницы."]
    assert any("ускорить" in r for r in s["requests"])
    assert day1["extractive"] and "офлайн-конспект" in day1["summary_text"]

    # re-running a day replaces its summary
    assert summarize(instance, "2026-11-24").success
    assert len(summaries(tg_env)) == 1


def test_glm_day_summary_is_cached(tg_env, instance, tmp_path, glm, monkeypatch):  # noqa: F811
    monkeypatch.setenv("C360_LLM_PROVIDER", "glm")
    glm.reply = json.dumps(
        {
            "summary": "Клиент недоволен задержкой приёмки на Ozon и штрафом за пересорт.",
            "topics": ["приёмка Ozon"],
            "requests": ["ускорить поставку"],
            "complaints": ["штраф за пересорт"],
            "promises": ["акт до пятницы"],
            "tone": "Негативный",
        },
        ensure_ascii=False,
    )
    import_file(instance, write(tmp_path / "e" / "result.json", fx.single_chat_export()))
    result = summarize(instance, "2026-11-24")
    [row] = summaries(tg_env)
    assert row["generated_by"] == "glm:glm-4-flash-250414" and not row["extractive"] and row["prompt_tokens"] > 0
    assert json.loads(row["summary"])["tone"] == "негативный"
    prompt = glm.requests[-1].json()["messages"][1]["content"]
    assert "(клиент): Штраф за пересорт 5000 рублей" in prompt and "[11:00] Анна Соколова (мы): Проверим" in prompt
    [mat] = result.asset_materializations_for_node("telegram_daily_summaries")
    assert mat.metadata["токенов всего"].value > 0

    summarize(instance, "2026-11-24")
    assert glm.completions == 1, "the same day's chat is not paid for twice"


def test_curator_report_has_the_chats_section(tg_env, instance, tmp_path, telegram):  # noqa: F811
    import_file(instance, write(tmp_path / "e" / "result.json", fx.single_chat_export()))
    summarize(instance, "2026-11-24")
    build_views(instance)  # the report reads the dbt views the hourly warehouse build keeps
    assert dg.materialize(
        [daily_curator_report], partition_key="2026-11-24", resources=all_resources(), instance=instance
    ).success
    [message] = telegram.messages
    text = message["text"]
    assert "Встреч: 0, клиентов: 1" in text and "Клиентов с перепиской в чатах: 1" in text
    assert "Клиент: лид 12345" in text and "В чатах (8 сообщ., тон: негативный)" in text
    assert "Мы обещали: Проверим и пришлём акт до пятницы." in text
