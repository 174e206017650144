"""Bot API delivery as the real server behaves (tests/fakes/telegram.py follows tdlib/telegram-bot-api): forum topics,
a group upgraded to a supergroup, the per-group limit, and a send whose answer was lost never shown twice."""

import pytest

from config.delivery import deliver_report
from connectors.http import ExternalServiceError
from connectors.telegram_bot import ChatTarget, TelegramBot
from orchestration.resources import all_resources
from tests.fakes.telegram import FakeTelegramBotApi
from warehouse.appdb import AppDB

GROUP = "-1001234567890"


@pytest.fixture
def db(env):
    db = AppDB(env.resolved_app_db_url)
    yield db
    db.dispose()


def fast_bot(server: FakeTelegramBotApi, **kwargs) -> TelegramBot:
    return TelegramBot(server.token, base_url=server.url, min_interval=0, base_delay=0, **kwargs)


def long_report(parts: int) -> str:
    """HTML that split_html cuts into `parts` messages (each line fills most of one)."""
    return "\n".join(f"<b>Часть {i + 1}</b> " + "пересорт на Ozon, " * 200 for i in range(parts))


def test_report_and_alerts_go_to_their_forum_topics(env, db, telegram, monkeypatch):
    monkeypatch.setenv("C360_ALERT_CHAT_ID", "-1009876543210")
    monkeypatch.setenv("C360_REPORT_THREAD_ID", "7")
    monkeypatch.setenv("C360_ALERT_THREAD_ID", "12")
    telegram.forums = {GROUP: {7}, "-1009876543210": {12}}
    resource = all_resources()["telegram"]
    with resource.bot() as bot:
        deliver_report(bot, db, resource.report_chat(), "report:1", "Отчёт кураторам")
        deliver_report(bot, db, resource.alert_chat(), "alert:1", "⚠️ Риск ухода")
    report, alert = telegram.messages
    assert (report["chat"]["id"], report["message_thread_id"]) == (int(GROUP), 7)
    assert (alert["chat"]["id"], alert["message_thread_id"]) == (-1009876543210, 12)


def test_a_topic_that_does_not_exist_is_named_and_can_be_sent_later(env, db, telegram):
    telegram.forums = {GROUP: {7}}
    with fast_bot(telegram) as bot:
        with pytest.raises(ExternalServiceError) as caught:
            deliver_report(bot, db, ChatTarget(GROUP, 8, "C360_REPORT_CHAT_ID"), "report:2", "Отчёт")
        assert "тема форума message_thread_id=8 не найдена" in str(caught.value)
        assert "C360_REPORT_THREAD_ID" in str(caught.value)
        assert not caught.value.outcome_unknown, "the Bot API refused: nothing arrived"
        # the owner fixed the topic: the same report goes out, once
        delivery = deliver_report(bot, db, ChatTarget(GROUP, 7, "C360_REPORT_CHAT_ID"), "report:2", "Отчёт")
    assert delivery.parts_sent_now == 1 and [m["message_thread_id"] for m in telegram.messages] == [7]


def test_a_group_upgraded_to_a_supergroup_is_followed_and_the_owner_told_once(env, db, telegram, monkeypatch):
    old, new = "-4962287234", -1002855950299
    telegram.migrated = {old: new}
    monkeypatch.setenv("C360_REPORT_CHAT_ID", old)
    resource = all_resources()["telegram"]
    with resource.bot() as bot:
        first = deliver_report(bot, db, resource.report_chat(), "report:1", "Отчёт за понедельник")
    with resource.bot() as bot:  # another run, another process: the app DB remembers the new id
        deliver_report(bot, db, resource.report_chat(), "report:2", "Отчёт за вторник")
        deliver_report(bot, db, resource.report_chat(), "report:2", "Отчёт за вторник")  # a retried run

    assert first.parts_sent_now == 1
    assert {m["chat"]["id"] for m in telegram.messages} == {new}
    texts = [m["text"] for m in telegram.messages]
    assert texts.count("Отчёт за понедельник") == 1 and texts.count("Отчёт за вторник") == 1
    [notice] = [t for t in texts if "супергруппой" in t]
    assert f"C360_REPORT_CHAT_ID={old}" in notice and f"C360_REPORT_CHAT_ID={new}" in notice
    to_old = [r for r in telegram.requests if r.path.endswith("/sendMessage") and str(r.json()["chat_id"]) == old]
    assert len(to_old) == 1, "after the first refusal every send goes to the new id directly"

    # the owner updated the setting: the reports already sent are found under the old id, nothing is sent again
    monkeypatch.setenv("C360_REPORT_CHAT_ID", str(new))
    resource = all_resources()["telegram"]
    with resource.bot() as bot:
        again = deliver_report(bot, db, resource.report_chat(), "report:2", "Отчёт за вторник")
    assert again.already_sent and len(telegram.messages) == 3


def test_pacing_keeps_every_group_under_its_limit():
    # the Bots FAQ's 20 per minute, scaled down: 5 messages per second to one group
    with FakeTelegramBotApi(group_limit=5, group_window=1.0) as server:
        bots = [fast_bot(server, group_limit=5, group_window=1.0) for _ in range(2)]
        for i in range(12):  # two clients of one process share the group's window
            bots[i % 2].send_message(GROUP, f"сообщение {i}")
        bots[0].send_message("-100555", "другая группа не ждёт")
        for bot in bots:
            bot.close()
    assert server.rate_limited == 0, "no 429: the limit was never reached"
    assert len(server.messages) == 13


def test_a_long_report_is_paced_part_by_part(env, db):
    with FakeTelegramBotApi(group_limit=3, group_window=0.5) as server:
        with fast_bot(server, group_limit=3, group_window=0.5) as bot:
            delivery = deliver_report(bot, db, ChatTarget(GROUP), "report:long", long_report(8))
    assert delivery.parts_sent_now == 8 and len(server.messages) == 8
    assert server.rate_limited == 0


def test_a_429_is_waited_out_and_sent_once():
    with FakeTelegramBotApi() as server, fast_bot(server) as bot:
        server.rate_limit_next = [1]
        bot.send_message(GROUP, "тревога")
    assert [m["text"] for m in server.messages] == ["тревога"]
    attempts = [r for r in server.requests if r.path.endswith("/sendMessage")]
    assert len(attempts) == 2 and attempts[1].at - attempts[0].at >= 1.0  # parameters.retry_after


def test_a_connection_dropped_after_delivery_never_shows_twice(env, db):
    with FakeTelegramBotApi() as server:
        server.drop_after = {2}  # part 2 arrives, its answer is lost
        with fast_bot(server) as bot:
            with pytest.raises(ExternalServiceError) as caught:
                deliver_report(bot, db, ChatTarget(GROUP), "report:cut", long_report(4))
            assert caught.value.outcome_unknown and "повторно не отправляем" in str(caught.value)
            assert len(server.messages) == 2, "not resent within the call"

            retried = deliver_report(bot, db, ChatTarget(GROUP), "report:cut", long_report(4))
            again = deliver_report(bot, db, ChatTarget(GROUP), "report:cut", long_report(4))
    heads = [m["text"].split(" ", 2)[1] for m in server.messages]
    assert heads == ["1", "2", "3", "4"], "every part once, none twice"
    assert retried.parts_sent_now == 2 and retried.unconfirmed_parts == [2]
    assert again.already_sent and again.unconfirmed_parts == [2]


def test_a_gateway_error_on_send_is_not_resent(env, db):
    with FakeTelegramBotApi() as server, fast_bot(server) as bot:
        server.fail_next = [502]  # a proxy's 502: the Bot API behind it may have sent the message
        with pytest.raises(ExternalServiceError) as caught:
            bot.send_message(GROUP, "тревога")
    assert caught.value.outcome_unknown
    assert len([r for r in server.requests if r.path.endswith("/sendMessage")]) == 1


def test_one_message_for_several_alerts_marks_each_sent_with_it_and_never_before(env, db):
    covers = ["alert:10234|withdrawal|2026-11-23|critical", "alert:10234|inbound_stopped|2026-11-09|high"]
    sent = lambda key: (status := db.report_status(key, GROUP)) is not None and status["completed_at"] is not None  # noqa: E731
    with FakeTelegramBotApi() as server, fast_bot(server) as bot:
        server.fail_next = [400]  # refused: nothing arrived, nothing is marked
        with pytest.raises(ExternalServiceError):
            deliver_report(bot, db, ChatTarget(GROUP), "alerts:10234:1", "⚠️ Риск ухода", covers=covers)
        assert not any(sent(key) for key in covers)
        server.drop_after = {1}  # arrives, its answer is lost: a retry must not send it again
        with pytest.raises(ExternalServiceError):
            deliver_report(bot, db, ChatTarget(GROUP), "alerts:10234:1", "⚠️ Риск ухода", covers=covers)
        assert not any(sent(key) for key in covers)
        retried = deliver_report(bot, db, ChatTarget(GROUP), "alerts:10234:1", "⚠️ Риск ухода", covers=covers)
    assert retried.parts_sent_now == 0 and retried.unconfirmed_parts == [1]
    assert all(sent(key) for key in covers), "what the message said is sent, once"
    assert len(server.messages) == 1
