"""The Telethon pull on real telethon Message objects: mapping, shapes, FloodWait, crash-resume, edits."""

from datetime import UTC, datetime

import dagster as dg
import pytest
from telethon.tl import types

from assets.telegram.assets import telegram_messages
from orchestration.resources import all_resources
from tests.fakes.telethon_client import (
    CLIENT,
    COLLEAGUE,
    ME,
    Chat,
    StandInTelegramClient,
    StandInTelegramResource,
    conversation,
    supergroup,
    text_message,
)
from warehouse.aliases import save_alias
from warehouse.duck import connect, fetch_dicts

AT = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


def pull(instance, resource):
    result = dg.materialize(
        [telegram_messages],
        resources={**all_resources(), "telegram_user": resource},
        instance=instance,
        raise_on_error=False,
    )
    meta = None
    if result.success:
        [mat] = result.asset_materializations_for_node("telegram_messages")
        meta = {k: v.value for k, v in mat.metadata.items()}
    return result, meta


def stored(settings, chat_id=None):
    with connect(settings.warehouse_path, read_only=True) as con:
        sql = "select * from raw.telegram_messages" + (f" where chat_id = {chat_id}" if chat_id else "")
        return {r["message_id"]: r for r in fetch_dicts(con, sql + " order by message_id")}


@pytest.fixture
def group():
    return Chat(supergroup(1730156619, "client-12345 ИП Смирнова / склад"), "client-12345 ИП Смирнова / склад")


def test_pull_maps_chats_and_normalizes_real_messages(env, instance, group):
    doc = types.Document(
        id=1,
        access_hash=1,
        file_reference=b"",
        date=AT,
        mime_type="application/pdf",
        size=52000,
        dc_id=2,
        attributes=[types.DocumentAttributeFilename("Акт_сверки.pdf")],
    )
    voice = types.Document(
        id=2,
        access_hash=1,
        file_reference=b"",
        date=AT,
        mime_type="audio/ogg",
        size=4000,
        dc_id=2,
        attributes=[types.DocumentAttributeAudio(duration=12, voice=True)],
    )
    group.messages = [
        text_message(group, 1, CLIENT, "Ozon задержал приёмку", AT),
        text_message(
            group, 2, ME, "Проверим и пришлём акт до пятницы", AT, reply_to=types.MessageReplyHeader(reply_to_msg_id=1)
        ),
        text_message(group, 3, COLLEAGUE, "Акт во вложении", AT, media=types.MessageMediaDocument(document=doc)),
        text_message(group, 4, CLIENT, "", AT, media=types.MessageMediaDocument(document=voice)),
        text_message(
            group,
            5,
            CLIENT,
            "Смотрите, что пишут",
            AT,
            fwd_from=types.MessageFwdHeader(date=AT, from_name="Ozon Seller"),
        ),
        types.MessageService(
            id=6,
            peer_id=types.PeerChannel(1730156619),
            date=AT,
            from_id=types.PeerUser(ME.id),
            action=types.MessageActionPinMessage(),
        ),
    ]
    private = Chat(types.User(id=444, first_name="Незнакомец", access_hash=4), "Незнакомец")
    conversation(private, 3)
    stand_in = StandInTelegramClient([group, private])
    result, meta = pull(instance, StandInTelegramResource(stand_in, staff_ids={COLLEAGUE.id}))
    assert result.success
    assert (meta["чатов в аккаунте"], meta["чатов загружено"], meta["новых сообщений"]) == (2, 1, 6)
    assert meta["чатов без клиента"] == 1 and "Незнакомец" in meta["чаты без клиента"]
    assert [c for c, _ in stand_in.history_calls] == [group.chat_id], "unmapped chats are not read"
    assert not stand_in.connected, "disconnected after the pull"

    rows = stored(env)
    assert set(rows) == {1, 2, 3, 4, 5, 6} and {r["chat_id"] for r in rows.values()} == {-1001730156619}
    assert (rows[1]["sender_name"], rows[1]["direction"], rows[1]["sent_at"]) == (
        "Ольга Смирнова",
        "client",
        AT.replace(tzinfo=None),
    )
    assert (rows[2]["direction"], rows[2]["reply_to_id"]) == ("staff", 1)
    assert (rows[3]["direction"], rows[3]["media_kind"], rows[3]["media_name"], rows[3]["media_size"]) == (
        "staff",
        "document",
        "Акт_сверки.pdf",
        52000,
    )
    assert (rows[4]["media_kind"], rows[4]["text"]) == ("voice_message", None)
    assert rows[5]["forwarded_from"] == "Ozon Seller"
    assert (rows[6]["kind"], rows[6]["service_action"]) == ("service", "PinMessage") and rows[6]["raw"]


def test_flood_wait_mid_pull_is_waited_out_without_gaps(env, instance, group):
    conversation(group, 50)
    stand_in = StandInTelegramClient([group])
    stand_in.flood_wait_at[group.chat_id] = (23, 17)
    resource = StandInTelegramResource(stand_in, batch_size=10)
    result, meta = pull(instance, resource)
    assert result.success and resource.sleeps == [17] and meta["пауз FloodWait"] == 1
    assert list(stored(env)) == list(range(1, 51))
    assert stand_in.history_calls == [(group.chat_id, 0), (group.chat_id, 23)], "resumed after the last message read"


def test_crash_after_n_messages_resumes_at_n_plus_one(env, instance, group):
    conversation(group, 40)
    stand_in = StandInTelegramClient([group])
    stand_in.crash_after = 25
    result, _ = pull(instance, StandInTelegramResource(stand_in, batch_size=5))
    assert not result.success
    assert list(stored(env)) == list(range(1, 26)), "every batch handed over before the crash is kept"

    stand_in.crash_after = None
    result, meta = pull(instance, StandInTelegramResource(stand_in, batch_size=5))
    assert result.success and meta["новых сообщений"] == 15
    assert stand_in.history_calls[-1] == (group.chat_id, 25)
    assert list(stored(env)) == list(range(1, 41))

    _, again = pull(instance, StandInTelegramResource(stand_in))
    assert again["новых сообщений"] == 0 and len(stored(env)) == 40


def test_recent_edits_are_recorded_and_first_text_kept(env, instance, group):
    now = datetime.now(UTC)
    group.messages = [text_message(group, 1, CLIENT, "Нужна отгрузка в пятницу", now)]
    stand_in = StandInTelegramClient([group])
    pull(instance, StandInTelegramResource(stand_in))
    group.messages = [text_message(group, 1, CLIENT, "Нужна отгрузка в четверг", now, edit_date=now)]
    _, meta = pull(instance, StandInTelegramResource(stand_in))
    assert meta["правок применено"] == 1 and meta["новых сообщений"] == 0
    row = stored(env)[1]
    assert (row["text"], row["original_text"]) == ("Нужна отгрузка в четверг", "Нужна отгрузка в пятницу")
    assert row["edited_at"] == now.replace(tzinfo=None)


def test_chat_mapped_later_gets_its_whole_history(env, instance):
    private = Chat(CLIENT, "Ольга Смирнова")
    conversation(private, 12)
    stand_in = StandInTelegramClient([private])
    _, meta = pull(instance, StandInTelegramResource(stand_in))
    assert meta["чатов загружено"] == 0 and meta["чатов без клиента"] == 1

    save_alias(env.resolved_aliases_file, "telegram_chat", str(CLIENT.id), "12345", "личный чат с Ольгой")
    _, meta = pull(instance, StandInTelegramResource(stand_in))
    assert meta["чатов загружено"] == 1 and meta["новых сообщений"] == 12
    with connect(env.warehouse_path, read_only=True) as con:
        assert con.execute("select client_id, mapped_by from raw.telegram_chats").fetchall() == [("12345", "alias")]


def test_invalid_session_fails_with_login_hint(env, instance, group):
    result, _ = pull(instance, StandInTelegramResource(StandInTelegramClient([group], authorized=False)))
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "client360 telegram login" in failure.step_failure_data.user_failure_data.description
