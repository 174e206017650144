"""Telegram Desktop export import: every message shape, idempotence, edits, mapping, broken files, sensor, CLI."""

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from orchestration.definitions import build_defs
from orchestration.run_once import evaluate_sensor, run_once
from orchestration.sensors import export_run_request
from tests.conftest import query
from tests.fixtures import telegram_exports as fx
from tests.test_cli import cli
from warehouse.duck import connect, fetch_dicts


@pytest.fixture
def tg_env(env, monkeypatch, tmp_path):
    monkeypatch.setenv("C360_TELEGRAM_STAFF_IDS", str(fx.STAFF_USER))
    monkeypatch.setenv("C360_TELEGRAM_EXPORT_DIR", str(tmp_path / "exports"))
    (tmp_path / "exports").mkdir()
    return env


def write(path, data) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return str(path)


def import_file(instance, path):
    request = export_run_request(path, os.path.getsize(path), os.path.getmtime(path))
    result = (
        build_defs()
        .resolve_job_def("telegram_export_job")
        .execute_in_process(run_config=request.run_config, instance=instance, raise_on_error=False)
    )
    mats = result.asset_materializations_for_node("telegram_exports") if result.success else []
    return result, ({k: v.value for k, v in mats[0].metadata.items()} if mats else None)


def messages(settings, where="true"):
    with connect(settings.warehouse_path, read_only=True) as con:
        return {r["message_id"]: r for r in fetch_dicts(con, f"select * from raw.telegram_messages where {where}")}


def test_single_chat_export_keeps_every_shape(tg_env, instance, tmp_path):
    path = write(tmp_path / "exports" / "ChatExport_2026-11-25" / "result.json", fx.single_chat_export())
    result, meta = import_file(instance, path)
    assert result.success
    assert (meta["добавлено"], meta["служебных"], meta["неизвестного вида (сохранены как есть)"]) == (12, 2, 2)
    assert meta["чатов без клиента"] == 0

    rows = messages(tg_env)
    assert set(rows) == set(range(100, 112))
    assert {r["chat_id"] for r in rows.values()} == {fx.SUPERGROUP_ID}, "bare export id → Telethon's marked id"
    assert rows[100]["sent_at"] == datetime(2026, 11, 24, 7, 0) and rows[100]["direction"] == "client"
    assert rows[101]["text"] == (
        "Посмотрите, пожалуйста, @anna_ff поставку https://seller.ozon.ru/app/supply/123 — можно ускорить?"
    )
    assert rows[102]["edited_at"] == datetime(2026, 11, 24, 7, 12)
    assert rows[103]["reply_to_id"] == 102 and rows[103]["direction"] == "staff"
    assert rows[104]["forwarded_from"] == "Ozon Seller"
    assert (rows[105]["media_kind"], rows[105]["media_name"], rows[105]["text"]) == (
        "photo",
        "photo_1@24-11-2026_12-00-00.jpg",
        None,
    )
    assert (rows[106]["media_kind"], rows[106]["media_name"], rows[106]["media_size"]) == (
        "voice_message",
        "audio_1.ogg",
        48213,
    )
    assert rows[107]["kind"] == "service" and rows[107]["service_action"] == "invite_members"
    assert json.loads(rows[107]["raw"])["members"] == ["Игорь Лебедев"]
    assert rows[108]["service_action"] == "pin_message" and rows[108]["direction"] == "staff"
    assert rows[109]["kind"] == "unknown" and json.loads(rows[109]["raw"])["type"] == "unsupported"
    with connect(tg_env.warehouse_path, read_only=True) as con:
        assert con.execute("select raw from raw.telegram_unparsed").fetchone()[0] == json.dumps(
            {"type": "message", "text": "сообщение без id и даты"}, ensure_ascii=False
        )
        assert con.execute("select client_id, mapped_by, title from raw.telegram_chats").fetchall() == [
            ("12345", "title", "Склад | client-12345 ИП Смирнова")
        ]


def test_reimport_and_overlap_add_nothing_twice_and_apply_edits(tg_env, instance, tmp_path):
    path = write(tmp_path / "a" / "result.json", fx.single_chat_export())
    import_file(instance, path)
    _, again = import_file(instance, path)
    assert (again["добавлено"], again["обновлено (правки)"], again["уже были"]) == (0, 0, 12)

    overlap = fx.supergroup_messages()[-3:]  # 110, 111 again ...
    edited = dict(fx.supergroup_messages()[0], text="Добрый день! Ozon снова задержал приёмку на три дня.")
    edited["edited_unixtime"] = str(int(datetime(2026, 11, 24, 12, 0).timestamp()) + 3 * 3600)
    overlap += [edited, fx.msg(112, fx.ts(2026, 11, 25, 6, 0), fx.CLIENT_USER, "Ольга Смирнова", "Акт получили")]
    path2 = write(tmp_path / "b" / "result.json", fx.single_chat_export(messages=overlap))
    _, meta = import_file(instance, path2)
    assert (meta["добавлено"], meta["обновлено (правки)"]) == (1, 1)
    row = messages(tg_env, "message_id = 100")[100]
    assert row["text"].endswith("на три дня.") and row["original_text"] == "Добрый день! Ozon снова задержал приёмку."
    assert len(messages(tg_env)) == 13


def test_full_account_export_and_mapping_a_chat_later(tg_env, instance, tmp_path):
    path = write(tmp_path / "full" / "result.json", fx.full_account_export())
    result, meta = import_file(instance, path)
    assert result.success and meta["чатов в файле"] == 3 and meta["добавлено"] == 5
    assert meta["чатов без клиента"] == 2 and "Ольга Смирнова" in meta["чаты без клиента"]
    rows = messages(tg_env)
    assert rows[5002]["direction"] == "staff", "the exporting account is staff"
    assert rows[5001]["chat_id"] == fx.CLIENT_USER and rows[7]["chat_id"] == -4455667
    assert rows[5003]["service_action"] == "phone_call"
    assert (rows[1]["chat_id"], rows[1]["sender_id"], rows[1]["kind"]) == (-10099887766, -10099887766, "service")

    def chat_client(chat_id):
        return query(tg_env, "select client_id from raw.telegram_chats where chat_id = ?", [chat_id])[0]["client_id"]

    assert chat_client(fx.CLIENT_USER) is None
    mapped = cli("map-telegram", str(fx.CLIENT_USER), "12345", cwd=tmp_path)
    assert mapped.returncode == 0 and "сообщений в истории 3" in mapped.stdout
    assert chat_client(fx.CLIENT_USER) == "12345", "its history joins the client at once, before the next import"
    assert chat_client(-4455667) == "555", "the group chat was mapped by the lead ID in its title"


@pytest.mark.parametrize(
    "content, expected",
    [
        (
            '{"name": "Склад", "type": "private_supergroup", "id": 1, "messages": [{"id": 1, "ty',
            "обрезан или это не JSON",
        ),
        ('{"foo": 1}', "это не экспорт Telegram Desktop"),
        ("[1, 2]", "в корне не объект"),
        ('{"chats": {"list": [{"name": "x", "messages": []}]}}', "чат №1 без 'id'"),
    ],
)
def test_broken_export_fails_clearly_and_writes_nothing(tg_env, instance, tmp_path, content, expected):
    path = tmp_path / "broken" / "result.json"
    path.parent.mkdir()
    path.write_text(content)
    result, _ = import_file(instance, str(path))
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    description = failure.step_failure_data.user_failure_data.description
    assert str(path) in description and expected in description
    with connect(tg_env.warehouse_path, read_only=True) as con:
        assert con.execute("select count(*) from raw.telegram_messages").fetchone() == (0,)


def test_exports_sensor_imports_each_file_once(tg_env, instance, tmp_path):
    exports = tmp_path / "exports"
    write(exports / "ChatExport_1" / "result.json", fx.single_chat_export())
    (exports / "ChatExport_1" / "notes.json").write_text("{}")  # not an export file name: ignored
    old = datetime(2026, 11, 1).timestamp()
    os.utime(exports / "ChatExport_1" / "result.json", (old, old))
    fresh = write(exports / "ChatExport_2" / "result.json", fx.full_account_export())  # still being written

    first = run_once(build_defs(), instance, tg_env, log=lambda *_: None)
    assert first.failed == [] and len(first.succeeded) == 1
    second = run_once(build_defs(), instance, tg_env, log=lambda *_: None)  # the fresh file is now unchanged: taken
    assert second.failed == [] and [s for s in second.succeeded] == [os.path.realpath(fresh)]
    third = run_once(build_defs(), instance, tg_env, log=lambda *_: None)
    assert third.requested == 0
    run_keys = [r.tags["dagster/run_key"] for r in instance.get_runs()]
    assert len(run_keys) == 2 and all(k.startswith("telegram-export:") for k in run_keys)
    assert len(messages(tg_env)) == 12 + 5


def test_cli_import_prints_counts_and_is_idempotent(tg_env, tmp_path):
    path = write(tmp_path / "x" / "result.json", fx.single_chat_export())
    first = cli("import-telegram", path, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "добавлено 12" in first.stdout
    second = cli("import-telegram", path, cwd=tmp_path)
    assert "добавлено 0" in second.stdout and "уже были 12" in second.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    failed = cli("import-telegram", str(bad), cwd=tmp_path)
    assert failed.returncode == 1 and "bad.json: файл обрезан" in failed.stderr


def test_sensor_without_export_dir_says_so(env, instance):
    data = evaluate_sensor(build_defs(), instance, "telegram_exports_sensor", None)
    assert data.run_requests == [] and "C360_TELEGRAM_EXPORT_DIR" in data.skip_message


def test_exports_sensor_lists_a_bad_file_name_and_imports_the_rest(tg_env, instance, tmp_path):
    exports = tmp_path / "exports"
    good = write(exports / "ChatExport_ok" / "result.json", fx.single_chat_export())
    bad_dir = Path(os.fsdecode(os.fsencode(exports) + b"/ChatExport_\xff"))  # a folder name that is not UTF-8
    write(bad_dir / "result.json", fx.single_chat_export())
    old = datetime(2026, 11, 1).timestamp()
    for path in (good, bad_dir / "result.json"):
        os.utime(path, (old, old))

    data = evaluate_sensor(build_defs(), instance, "telegram_exports_sensor", None)
    [request] = data.run_requests
    assert request.tags["c360/export"] == os.path.realpath(good)
    [observation] = data.asset_events
    assert "ChatExport_\ufffd/result.json" in observation.metadata["файлы"].value
    assert "UTF-8" in observation.metadata["файлы"].value
    again = evaluate_sensor(build_defs(), instance, "telegram_exports_sensor", data.cursor)
    assert again.asset_events == [], "the same list is said once"
    assert "не взято из-за ошибок: 1" in again.skip_message
