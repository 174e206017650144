"""The daily curator report: content, splitting under Telegram's limit, once-only delivery, 429 handling."""

import random
from datetime import date, datetime

import dagster as dg
import pytest

from assets.reports.assets import daily_curator_report
from connectors.telegram_bot import split_html, utf16_len
from devkit.demo import CLIENTS, _dialogue
from orchestration.definitions import build_defs
from orchestration.resources import all_resources
from orchestration.run_once import run_once
from tests.conftest import build_views, jibri
from tests.fakes.telegram import visible_text

DAY = "2026-11-24"


def materialize_report(instance, day=DAY):
    build_views(instance)
    return dg.materialize(
        [daily_curator_report], partition_key=day, resources=all_resources(), instance=instance, raise_on_error=False
    )


def test_split_html_keeps_markup_valid_and_text_whole():
    rng = random.Random(7)
    words = ["пересорт", "штраф", "<b>Ozon</b>", "&amp;", "поставка", "<i>Wildberries — 5 000 ед.</i>", "ок"]
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 60))) for _ in range(300)]
    lines.append("<b>" + "очень длинная строка " * 400 + "</b>")  # one line longer than a message
    html = "\n".join(lines)
    parts = split_html(html, limit=1000)
    assert len(parts) > 10
    texts = []
    for part in parts:
        assert utf16_len(part) <= 1000
        text, error = visible_text(part)
        assert error is None, (error, part[:200])
        texts.append(text)
    whole, _ = visible_text(html)
    assert "".join(texts).replace("\n", "").replace(" ", "") == whole.replace("\n", "").replace(" ", "")


def test_report_for_two_clients_arrives_once(env, recordings, instance, telegram):
    jibri(recordings, "a", "12345", datetime(2026, 11, 24, 10, 0, 0))
    jibri(
        recordings,
        "b",
        "67890",
        datetime(2026, 11, 24, 15, 0, 0),
        lines=[("Игорь", "Ozon задержал приёмку, поставка висит три дня."), ("Артём", "Это для нас проблема.")],
    )
    jibri(recordings, "c", "11111", datetime(2026, 11, 23, 15, 0, 0))  # another day: not in this report
    assert run_once(build_defs(), instance, env, log=lambda *_: None).failed == []

    assert materialize_report(instance).success
    [message] = telegram.messages
    assert message["chat"]["id"] == -1001234567890
    text = message["text"]
    assert "Отчёт кураторам за 24.11.2026 (вторник)" in text and "Встреч: 2, клиентов: 2" in text
    assert "лид 12345" in text and "лид 67890" in text and "лид 11111" not in text
    assert "пересорт" in text and "Ozon задержал приёмку" in text
    assert "<b>" in message["raw"], "sent as HTML"

    # a retry (a re-run of the same day) sends nothing
    result = materialize_report(instance)
    assert result.success and len(telegram.messages) == 1
    [mat] = result.asset_materializations_for_node("daily_curator_report")
    assert mat.metadata["отправлен"].value == "ранее (повтор не нужен)"


def test_long_report_is_split_and_a_failed_send_resumes_without_duplicates(env, recordings, instance, telegram):
    rng = random.Random(3)
    for i, (lead, _company, person, mp) in enumerate(CLIENTS * 2):
        lines = _dialogue(rng, "Мария Кузнецова", person, mp) * 3
        jibri(recordings, f"s{i}", lead, datetime(2026, 11, 24, 9 + i // 3, (i % 3) * 20, 0), lines=lines)
    assert run_once(build_defs(), instance, env, log=lambda *_: None).failed == []

    sent_before_failure = 1
    original = telegram.handle
    calls = 0

    def refuse_second(req):
        nonlocal calls
        calls += 1
        if calls == 2:
            return 400, {}, {"ok": False, "error_code": 400, "description": "Bad Request: not enough rights"}
        return original(req)

    telegram.handle = refuse_second
    failed = materialize_report(instance)
    assert not failed.success
    assert len(telegram.messages) == sent_before_failure

    retried = materialize_report(instance)
    assert retried.success
    messages = telegram.messages
    assert len(messages) >= 3, "a report of 20 meetings does not fit one message"
    assert all(len(m["text"].encode("utf-16-le")) // 2 <= 4096 for m in messages)
    whole = "\n".join(m["text"] for m in messages)
    assert whole.count("Отчёт кураторам за 24.11.2026") == 1, "no part was sent twice"
    for lead, *_ in CLIENTS:
        assert f"лид {lead}" in whole
    [mat] = retried.asset_materializations_for_node("daily_curator_report")
    assert mat.metadata["сообщений в отчёте"].value == len(messages)
    assert mat.metadata["отправлено сейчас"].value == len(messages) - sent_before_failure


def test_rate_limited_send_waits_retry_after(env, instance, telegram):
    telegram.rate_limit_next = [1]
    assert materialize_report(instance, "2026-11-20").success
    attempts = [r for r in telegram.requests if r.path.endswith("/sendMessage")]
    assert len(attempts) == 2
    assert attempts[1].at - attempts[0].at >= 1.0
    [message] = telegram.messages
    assert message["text"] == "Отчёт кураторам за 20.11.2026 (пятница)\nВстреч с клиентами за этот день не было."


def test_without_telegram_settings_report_is_built_but_not_sent(env, instance):
    result = materialize_report(instance, "2026-11-21")
    assert result.success
    [mat] = result.asset_materializations_for_node("daily_curator_report")
    assert mat.metadata["отправлен"].value.startswith("нет")
    assert "Встреч с клиентами за этот день не было" in mat.metadata["отчёт"].value


@pytest.mark.parametrize("day, weekday", [(date(2026, 11, 23), "понедельник"), (date(2026, 11, 29), "воскресенье")])
def test_report_header_names_the_weekday(day, weekday):
    from assets.reports.curator_report import render_report

    assert render_report(day, []).startswith(f"<b>Отчёт кураторам за {day:%d.%m.%Y} ({weekday})</b>")


def test_split_at_every_boundary_near_tags():
    line = "<b>" + "а" * 30 + "</b> и " + "<i>" + "б" * 30 + "</i>" + " конец"
    whole, _ = visible_text(line)
    for limit in range(12, len(line) + 2):
        parts = split_html(line, limit=limit)
        texts = [visible_text(p) for p in parts]
        assert all(err is None and text.strip() for text, err in texts), (limit, parts)
        assert all(utf16_len(p) <= limit for p in parts), limit
        assert "".join(t for t, _ in texts).replace(" ", "") == whole.replace(" ", ""), (limit, parts)
