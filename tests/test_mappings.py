"""Mappings that cannot be hijacked: a renamed chat keeps its client (export import and Telethon pull) until an admin
maps it; a bad alias is refused before it is written and a bad line already in the file is skipped with its line
number; lead IDs are digits, at most 12, wherever they are read (room names, Jibri metadata, chat titles, aliases);
an import error is one short line."""

import contextlib
import io
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from gradio_client import Client

from assets.meetings.discovery import RecordingsFolder, lead_id_from_room
from assets.rag.assets import rag_index
from assets.serving import serving_snapshot
from assets.telegram.storage import refresh_chat_mapping, store_chats
from cli.main import main
from devkit.demo import write_jibri_session
from orchestration.dbt import dbt_resource, warehouse_models
from orchestration.resources import all_resources
from tests import test_app, test_telegram_export
from tests.conftest import DIALOGUE, query
from tests.fakes.telethon_client import CLIENT, ME, Chat, StandInTelegramClient, StandInTelegramResource, supergroup
from tests.fakes.telethon_client import text_message as tl_message
from tests.fixtures import telegram_exports as fx
from tests.test_cli import cli
from tests.test_telegram_export import import_file, write
from tests.test_telegram_pull import pull
from warehouse.aliases import AliasConflict, AliasError, load_aliases, save_alias
from warehouse.duck import connect

OLD_TITLE = "client-10234 Зоомир"
NEW_TITLE = "client-10517 ДомТекстиль (переименовано)"
HUGE = "99999999999999999999999999"
TZ = ZoneInfo("Europe/Moscow")
PULLED_AT = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
tg_env = test_telegram_export.tg_env  # the fixture: an offline setup with the staff id and an exports folder
running_app = test_app.running_app  # the fixture: the app on a free port over a built warehouse, anna and boss


def chat_row(settings, chat_id):
    [row] = query(settings, "select * from raw.telegram_chats where chat_id = ?", [chat_id])
    return row


def telegram_activity(settings) -> dict[str, int]:
    return dict(
        (r["client_id"], r["n"])
        for r in query(
            settings,
            "select client_id, sum(messages_in + messages_out)::int as n from marts.fct_client_daily_activity "
            "group by 1 having n > 0",
        )
    )


def build_marts(instance) -> None:
    assert dg.materialize([warehouse_models], resources={"dbt": dbt_resource()}, instance=instance).success


def test_a_renamed_chat_keeps_its_history_with_its_client_until_an_admin_maps_it(tg_env, instance, tmp_path):
    first = write(tmp_path / "a" / "result.json", fx.single_chat_export(title=OLD_TITLE))
    result, meta = import_file(instance, first)
    assert result.success and meta["переименованных чатов"] == 0
    assert chat_row(tg_env, fx.SUPERGROUP_ID)["client_id"] == "10234"

    # the group is renamed to point at another client, and one more message arrives
    later = fx.supergroup_messages() + [
        fx.msg(112, fx.ts(2026, 11, 25, 6, 0), fx.CLIENT_USER, "Ольга Смирнова", "Акт получили, спасибо")
    ]
    second = write(tmp_path / "b" / "result.json", fx.single_chat_export(messages=later, title=NEW_TITLE))
    result, meta = import_file(instance, second)
    assert result.success
    row = chat_row(tg_env, fx.SUPERGROUP_ID)
    assert (row["client_id"], row["mapped_by"], row["title"]) == ("10234", "title", NEW_TITLE)
    assert meta["переименованных чатов"] == 1
    renamed = meta["переименован (клиент не менялся)"]
    assert OLD_TITLE in renamed and NEW_TITLE in renamed and "10517" in renamed

    build_marts(instance)
    assert set(telegram_activity(tg_env)) == {"10234"}
    assert query(tg_env, "select telegram_chats from marts.dim_clients where client_id = '10234'") == [
        {"telegram_chats": 1}
    ]
    assert dg.materialize([rag_index], resources=all_resources(), instance=instance).success
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["ask", "10517", "Что с приёмкой на Ozon?", "--json"]) == 0
    answer = json.loads(out.getvalue())
    assert not any(str(fx.SUPERGROUP_ID) in c["source_id"] for c in answer["citations"])

    # only an admin moves it: an alias line, after which the chat is no longer listed as renamed
    mapped = cli("map-telegram", str(fx.SUPERGROUP_ID), "10517", cwd=tmp_path)
    assert mapped.returncode == 0, mapped.stderr
    assert "сообщений в истории 13" in mapped.stdout
    assert chat_row(tg_env, fx.SUPERGROUP_ID)["mapped_by"] == "alias"
    build_marts(instance)
    assert set(telegram_activity(tg_env)) == {"10517"}
    _, meta = import_file(instance, second)
    assert meta["переименованных чатов"] == 0


def pulled_group(instance, chat_id: int, title: str, text: str) -> tuple[Chat, Callable[[], dict]]:
    """A group with one client message, pulled once; the second value pulls it again (its metadata)."""
    group = Chat(supergroup(chat_id, title), title)
    group.messages = [tl_message(group, 1, CLIENT, text, PULLED_AT)]
    stand_in = StandInTelegramClient([group])

    def again() -> dict:
        return pull(instance, StandInTelegramResource(stand_in, staff_ids=(ME.id,)))[1]

    return group, again


def test_a_chat_renamed_between_pulls_keeps_its_client(env, instance):
    group, pull_again = pulled_group(instance, 1730156619, "client-12345 ИП Смирнова", "Поставка в пятницу?")
    meta = pull_again()
    assert meta["чатов загружено"] == 1 and meta["переименованных чатов"] == 0

    group.title = "client-67890 чужой клиент"  # whoever can rename the group
    group.messages.append(tl_message(group, 2, CLIENT, "Ещё одно сообщение", PULLED_AT + timedelta(minutes=5)))
    meta = pull_again()
    assert meta["новых сообщений"] == 1 and meta["переименованных чатов"] == 1
    assert "client-67890 чужой клиент" in meta["переименован (клиент не менялся)"]
    row = chat_row(env, group.chat_id)
    assert (row["client_id"], row["mapped_title"]) == ("12345", "client-12345 ИП Смирнова")

    group.title = "Без номера"  # a title without a lead does not unmap it either
    meta = pull_again()
    assert chat_row(env, group.chat_id)["client_id"] == "12345" and meta["чатов без клиента"] == 0
    assert "Без номера" in meta["переименован (клиент не менялся)"]


def test_a_title_maps_a_chat_only_the_first_time_it_is_seen(env, instance):
    group, pull_again = pulled_group(instance, 1730156620, "Новая группа", "Чужая переписка до переименования")
    meta = pull_again()
    assert meta["чатов без клиента"] == 1 and meta["переименованных чатов"] == 0

    group.title = "client-12345 ИП Смирнова"  # a later title naming a lead does not hand it this chat's history
    meta = pull_again()
    row = chat_row(env, group.chat_id)
    assert (row["client_id"], row["mapped_title"], row["title_lead"]) == (None, "Новая группа", "12345")
    assert meta["чатов без клиента"] == 1 and meta["переименованных чатов"] == 1
    assert "после первой загрузки" in meta["чаты без клиента"]
    assert "client-12345 ИП Смирнова" in meta["переименован (клиент не менялся)"]


def test_a_bad_alias_typed_at_the_cli_is_refused_and_writes_nothing(tg_env, instance, tmp_path):
    aliases = tg_env.resolved_aliases_file
    save_alias(aliases, "wms_client", "W-1", "10234")
    before = aliases.read_bytes()
    for chat, lead, expected in (
        ("1900000099", "abc", "не ID лида"),
        ("1900000099", HUGE, "не ID лида"),
        ("1900000099", "-5", "не ID лида"),
        ("1900000099", "１２３", "не ID лида"),  # full-width digits
        ("1900000099", "0", "не ID лида"),
        ("abc", "10234", "ID чата Telegram — целое число"),
    ):
        out = cli("map-telegram", chat, lead, cwd=tmp_path)
        assert out.returncode == 2 and expected in out.stderr, (chat, lead, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
        assert aliases.read_bytes() == before
    loaded = load_aliases(aliases)
    assert loaded == {("wms_client", "W-1"): "10234"} and loaded.problems == []

    # every loader still works: an import maps by title as before
    result, meta = import_file(instance, write(tmp_path / "x" / "result.json", fx.single_chat_export()))
    assert result.success and chat_row(tg_env, fx.SUPERGROUP_ID)["client_id"] == "12345"

    ok = cli("map-telegram", str(fx.SUPERGROUP_ID), "10234", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    again = cli("map-telegram", str(fx.SUPERGROUP_ID), "10234", cwd=tmp_path)
    assert again.returncode == 0 and "уже была" in again.stdout
    other = cli("map-telegram", str(fx.SUPERGROUP_ID), "10517", cwd=tmp_path)
    assert other.returncode == 2 and "уже привязан к лиду 10234" in other.stderr and "--replace" in other.stderr
    assert chat_row(tg_env, fx.SUPERGROUP_ID)["client_id"] == "10234"
    replaced = cli("map-telegram", str(fx.SUPERGROUP_ID), "10517", "--replace", cwd=tmp_path)
    assert replaced.returncode == 0, replaced.stderr
    assert chat_row(tg_env, fx.SUPERGROUP_ID)["client_id"] == "10517"
    assert load_aliases(aliases)[("telegram_chat", str(fx.SUPERGROUP_ID))] == "10517"
    chat_lines = [ln for ln in aliases.read_text(encoding="utf-8").splitlines() if str(fx.SUPERGROUP_ID) in ln]
    assert len(chat_lines) == 1, "re-mapping rewrites the chat's line, it does not stack a second one"


def test_a_mapping_the_file_cannot_read_back_is_refused_and_a_hand_added_contradiction_is_skipped(tmp_path):
    path = tmp_path / "aliases.csv"
    save_alias(path, "telegram_chat", "-1001900000901", "10517")
    # an unclosed quote typed by hand swallows every line after it
    with path.open("a", encoding="utf-8") as f:
        f.write('wms_client,"unterminated,quote\n')
    before = path.read_bytes()
    with pytest.raises(AliasError, match="испорчен"):
        save_alias(path, "wms_client", "W-9", "10892")
    assert path.read_bytes() == before, "nothing written"
    assert load_aliases(path) == {("telegram_chat", "-1001900000901"): "10517"}
    # a re-mapping rewrites the file: what it says it did, it did
    assert save_alias(path, "telegram_chat", "-1001900000901", "10892", replace=True)
    assert load_aliases(path)[("telegram_chat", "-1001900000901")] == "10892"

    # a second line for an already mapped chat, added by hand at the end, does not move it: skipped, reported
    path.write_text(
        "system,external_id,client_id,note\ntelegram_chat,-1001900000901,10517,\ntelegram_chat,-1001900000901,10234,\n",
        encoding="utf-8",
    )
    loaded = load_aliases(path)
    assert loaded == {("telegram_chat", "-1001900000901"): "10517"}
    [(line, why)] = loaded.problems
    assert line == 3 and "строке 2" in why


def test_save_alias_checks_every_value_before_writing(tmp_path):
    path = tmp_path / "aliases.csv"
    for system, external, lead in (
        ("telegram_chat", "1900000099", "abc"),
        ("telegram_chat", "1900000099", HUGE),
        ("telegram_chat", "12;drop", "10234"),
        ("bitrix_contact", "x7", "10234"),
        ("unknown", "1", "10234"),
        ("wms_client", "", "10234"),
        ("recording", "комната\nс переводом строки", "10234"),
    ):
        with pytest.raises(AliasError):
            save_alias(path, system, external, lead)
    assert not path.exists()
    assert save_alias(path, "telegram_chat", "+0042", "10234", "заметка, с запятой\nи строкой") is True
    assert save_alias(path, "telegram_chat", "42", "10234") is False, "the same chat, the same lead: nothing new"
    with pytest.raises(AliasConflict):
        save_alias(path, "telegram_chat", "42", "10517")
    assert load_aliases(path) == {("telegram_chat", "42"): "10234"}


def test_a_bad_line_already_in_the_file_is_reported_and_skipped(tg_env, instance, tmp_path):
    aliases = tg_env.resolved_aliases_file
    aliases.parent.mkdir(parents=True, exist_ok=True)
    aliases.write_text(
        "system,external_id,client_id,note\n"
        f"telegram_chat,{fx.CLIENT_USER},555,личный чат\n"  # line 2: fine
        "telegram_chat,1900000099,abc,\n"  # line 3: not a lead
        "wms_client,W-1,10234,\n"  # line 4: fine
        f"telegram_chat,-4455667,{HUGE},\n"  # line 5: too long
        "jira,PRJ-1,10234,\n"  # line 6: no such system
        "wms_client,W-2,10517,лишнее,поле",  # line 7: a comma too many, and no final newline
        encoding="utf-8",
    )
    loaded = load_aliases(aliases)
    assert loaded == {("telegram_chat", str(fx.CLIENT_USER)): "555", ("wms_client", "W-1"): "10234"}
    assert [n for n, _ in loaded.problems] == [3, 5, 6, 7]
    assert "не ID лида" in dict(loaded.problems)[3]

    result, meta = import_file(instance, write(tmp_path / "full" / "result.json", fx.full_account_export()))
    assert result.success, "one bad line stops no loader"
    skipped = meta["строки файла привязок пропущены"]
    assert all(f"| {n} |" in skipped for n in (3, 5, 6, 7))
    assert chat_row(tg_env, fx.CLIENT_USER)["client_id"] == "555", "the good lines still map"
    # the chat whose line is broken is not guessed from its title: it stays as it was (unmapped here)
    assert chat_row(tg_env, -4455667)["client_id"] is None

    # a new line is appended on a line of its own even when the file lacked the final newline
    save_alias(aliases, "wms_client", "W-3", "10999")
    assert load_aliases(aliases)[("wms_client", "W-3")] == "10999"


@pytest.mark.parametrize("room", [f"client-{HUGE}", "client-1234567890123", "client-0", f"client_{HUGE}_x"])
def test_over_long_or_zero_lead_ids_in_room_names_make_no_client(recordings, room):
    assert lead_id_from_room(room, "client") is None
    write_jibri_session(recordings, "s1", room, datetime(2026, 11, 24, 10, 0), DIALOGUE)
    scan = RecordingsFolder(recordings, prefix="client", tz=TZ).scan(now=time.time())
    assert scan.ready == []
    [unmatched] = scan.unmatched
    assert unmatched.room == room and "не ID лида" in unmatched.reason and "не больше 12" in unmatched.reason


def test_an_over_long_lead_in_jibri_metadata_is_no_client(recordings):
    extra = {"lead_id": "1234567890123"}
    write_jibri_session(recordings, "s1", "planerka", datetime(2026, 11, 24, 10, 0), DIALOGUE, extra=extra)
    scan = RecordingsFolder(recordings, prefix="client", tz=TZ).scan(now=time.time())
    assert scan.ready == []
    [unmatched] = scan.unmatched
    assert "metadata.json" in unmatched.reason and "не ID лида" in unmatched.reason
    # a well-formed lead in the metadata still wins over a room without one
    extra = {"lead_id": "123456789012"}
    write_jibri_session(recordings, "s2", "planerka", datetime(2026, 11, 24, 11, 0), DIALOGUE, extra=extra)
    [ready] = RecordingsFolder(recordings, prefix="client", tz=TZ).scan(now=time.time()).ready
    assert ready.client_id == "123456789012"


def test_an_over_long_lead_in_a_chat_title_makes_no_client(tg_env, instance, tmp_path):
    path = write(tmp_path / "a" / "result.json", fx.single_chat_export(title=f"client-{HUGE} Хакер"))
    result, meta = import_file(instance, path)
    assert result.success and meta["чатов без клиента"] == 1
    assert "не ID лида" in meta["чаты без клиента"]
    assert chat_row(tg_env, fx.SUPERGROUP_ID)["client_id"] is None


def test_an_import_error_is_one_short_line(tg_env, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "Склад", "messages": [')
    out = cli("import-telegram", str(bad), cwd=tmp_path)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "файл обрезан" in lines[0] and len(lines[0]) < 400, out.stderr
    assert "Traceback" not in out.stderr and "Stack Trace" not in out.stderr and out.stdout == ""
    with connect(tg_env.warehouse_path, read_only=True) as con:
        assert con.execute("select count(*) from raw.telegram_messages").fetchone() == (0,)


def test_the_admin_page_lists_renamed_chats_and_refuses_a_bad_mapping(running_app, env, instance):
    url, _ = running_app
    with connect(env.warehouse_path) as con:
        store_chats(con, [{"chat_id": -1001, "title": OLD_TITLE, "chat_type": "private_supergroup"}], "export")
        refresh_chat_mapping(con, load_aliases(env.resolved_aliases_file), env.room_prefix)
        store_chats(con, [{"chat_id": -1001, "title": NEW_TITLE, "chat_type": "private_supergroup"}], "export")
        store_chats(con, [{"chat_id": -1002, "title": f"client-{HUGE}", "chat_type": "private_group"}], "export")
        refresh_chat_mapping(con, load_aliases(env.resolved_aliases_file), env.room_prefix)
    assert dg.materialize([serving_snapshot], resources=all_resources(), instance=instance).success
    boss = Client(url, auth=("boss", "пароль-босса-1"), verbose=False)
    page = boss.predict(api_name="/admin_overview")
    assert f"`-1001` переименован: «{OLD_TITLE}» → «{NEW_TITLE}»; клиент — лид 10234, в новом названии лид 10517" in (
        page.replace("\\", "")
    )
    assert "`-1002`" in page and "не ID лида" in page

    aliases = env.resolved_aliases_file
    for lead in ("abc", HUGE, "-1"):
        with pytest.raises(Exception, match="не ID лида"):
            boss.predict("telegram_chat", "-1001", lead, False, api_name="/map_item")
    with pytest.raises(Exception, match="целое число"):
        boss.predict("telegram_chat", "чат", "10517", False, api_name="/map_item")
    assert not aliases.exists(), "nothing written"
    assert "лид 10234" in boss.predict("telegram_chat", "-1001", "10234", False, api_name="/map_item")
    with pytest.raises(Exception, match="уже привязан к лиду 10234"):
        boss.predict("telegram_chat", "-1001", "10517", False, api_name="/map_item")
    assert "лид 10517" in boss.predict("telegram_chat", "-1001", "10517", True, api_name="/map_item")
    assert load_aliases(aliases) == {("telegram_chat", "-1001"): "10517"}
