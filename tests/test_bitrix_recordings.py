"""Bitrix24 call transcripts against the simulated portal: CoPilot first, recordings the way a webhook can get them
(disk.file.get, telephony statistics), a login page never kept as a recording."""

import json
from datetime import datetime, timedelta

import dagster as dg
import pytest

from assets.bitrix24.assets import bitrix_activities, bitrix_call_transcripts, bitrix_clients
from connectors.bitrix_calls import audio_suffix, copilot_segments
from devkit.bitrix_sim import LOGIN_PAGE
from devkit.demo import write_tone
from orchestration.resources import all_resources
from tests.conftest import metadata_of, query
from tests.fakes.bitrix import FakeBitrix24
from tests.fixtures import bitrix_data as bd

DAY = datetime(2026, 11, 19, 10, 0, tzinfo=bd.MSK)
COPILOT_TEXT = "Менеджер: Добрый день, звоню по поставке.\nКлиент: Отгрузите партию до пятницы, пожалуйста."
NO_ACCESS = "нет доступа к записи (повтор при следующем запуске)"


@pytest.fixture
def tone(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("tone") / "call.ogg"
    write_tone(path, seconds=2)
    return path.read_bytes()


@pytest.fixture
def portal(env, monkeypatch, speechkit, tone):
    """Lead 7 with two recorded calls (Drive files 501 and 502); SpeechKit as the recogniser."""
    monkeypatch.setenv("C360_STT_PROVIDER", "speechkit")
    speechkit.polls_until_done = 1
    with FakeBitrix24() as fake:
        monkeypatch.setenv("BITRIX_WEBHOOK_URL", fake.webhook_url)
        monkeypatch.setenv("C360_BITRIX_RATE", "100")
        bd.add_lead(fake, 7)
        fake.users = {1: {"ID": "1", "NAME": "Анна", "LAST_NAME": "Соколова"}}
        fake.activities = {n: bd.call(n, 1, 7, DAY, record=500 + n, portal=fake.url) for n in (1, 2)}
        fake.recordings = {501: tone, 502: tone}
        yield fake


def transcribe(instance, pull=True):
    if pull:
        assert dg.materialize([bitrix_clients, bitrix_activities], resources=all_resources(), instance=instance).success
    result = dg.materialize([bitrix_call_transcripts], resources=all_resources(), instance=instance)
    return metadata_of(result, "bitrix_call_transcripts")


def transcripts(env) -> dict[int, dict]:
    return {r["activity_id"]: r for r in query(env, "select * from raw.bitrix_call_transcripts")}


def kept_files(env) -> list[str]:
    return sorted(p.name for p in (env.data_dir / "bitrix_recordings").glob("*"))


def test_copilot_transcript_first_speechkit_only_without_one(portal, env, instance, speechkit):
    portal.transcripts = {1: COPILOT_TEXT}  # call 2: CoPilot has none (result null)
    m = transcribe(instance)
    assert m["расшифровано"] == 2 and m["источник расшифровки"] == {"bitrix_copilot": 1, "speechkit": 1}
    assert m["минут SpeechKit сэкономлено (CoPilot)"] == 4.0 and m["без расшифровки CoPilot (причина)"] == {"none": 1}
    assert len(speechkit.audio) == 1, "only the call without a CoPilot transcript is recognised"
    rows = transcripts(env)
    assert (rows[1]["transcript_source"], rows[1]["provider"]) == ("bitrix_copilot", None)
    assert [(s["speaker"], s["text"]) for s in json.loads(rows[1]["segments"])] == [
        ("Менеджер", "Добрый день, звоню по поставке."),
        ("Клиент", "Отгрузите партию до пятницы, пожалуйста."),
    ]
    assert rows[2]["transcript_source"] == "speechkit" and "Договорились отгрузить партию" in rows[2]["text"]
    assert portal.calls["disk.file.get"] == 1 and kept_files(env) == ["2.ogg"], "call 1's recording never fetched"


@pytest.mark.parametrize("copilot, reason", [("off", "ACCESS_DENIED"), ("absent", "ERROR_METHOD_NOT_FOUND")])
def test_portal_without_copilot_goes_to_speechkit(portal, env, instance, speechkit, copilot, reason):
    portal.copilot = copilot  # AI call processing disabled (403) / an older portal without the method
    m = transcribe(instance)
    assert m["источник расшифровки"] == {"speechkit": 2} and m["без расшифровки CoPilot (причина)"] == {reason: 2}
    assert len(speechkit.audio) == 2 and m["минут SpeechKit сэкономлено (CoPilot)"] == 0


def test_login_page_is_not_a_recording_and_is_tried_again(portal, env, instance, speechkit):
    portal.download_login_page = True  # the portal answers the file's link with its login form
    first = transcribe(instance)
    assert (first[NO_ACCESS], first["расшифровано"], first["ошибка распознавания"]) == (2, 0, 0)
    assert kept_files(env) == [] and speechkit.audio == [], "nothing stored, nothing sent to SpeechKit"
    rows = transcripts(env)
    assert rows[1]["status"] == "recording_no_access" and "text/html" in rows[1]["reason"]
    assert "d0wnl0adauth" not in rows[1]["reason"], "the link's own auth never shows"

    portal.download_login_page = False
    second = transcribe(instance, pull=False)
    assert (second["звонков с записью (к расшифровке)"], second["расшифровано"], second[NO_ACCESS]) == (2, 2, 0)
    assert {r["status"] for r in transcripts(env).values()} == {"ok"} and kept_files(env) == ["1.ogg", "2.ogg"]
    assert transcribe(instance, pull=False)["звонков с записью (к расшифровке)"] == 0, "done calls are not redone"


def test_recording_through_disk_and_telephony_never_the_show_file_link(portal, env, instance, tone):
    portal.relative_download_url = True  # DOWNLOAD_URL relative to the portal
    # call 2's FILES id is not a Drive id: the telephony statistics give the record's Drive file
    portal.recordings = {501: tone, 9079: tone}
    portal.telephony = [{"ID": "7", "CRM_ACTIVITY_ID": "2", "RECORD_FILE_ID": 9079, "CALL_RECORD_URL": None}]
    m = transcribe(instance)
    assert (m["расшифровано"], m["запись недоступна"]) == (2, 0)
    assert portal.calls["voximplant.statistic.get"] == 1
    assert not [r for r in portal.requests if r.path.endswith("crm_show_file.php")]

    portal.activities[3] = bd.call(3, 1, 7, DAY, record=777, portal=portal.url)  # a recording deleted from Drive
    m = transcribe(instance)
    assert (m["звонков с записью (к расшифровке)"], m["запись недоступна"]) == (1, 1)
    assert (
        "ERROR_NOT_FOUND" in transcripts(env)[3]["reason"] and transcripts(env)[3]["status"] == "recording_unavailable"
    )


def test_what_is_audio(tone, tmp_path):
    assert audio_suffix(tone, "application/octet-stream") == ".ogg"
    assert audio_suffix(tone, "text/html; charset=UTF-8") is None, "a page by its type"
    assert audio_suffix(LOGIN_PAGE.encode(), "application/octet-stream") is None, "a page by its bytes"
    assert audio_suffix(b'{"error": "ACCESS_DENIED"}', None) is None and audio_suffix(b"", "audio/mpeg") is None
    write_tone(tmp_path / "a.m4a", seconds=1)
    assert audio_suffix(tmp_path / "a.m4a") == ".m4a"


def test_copilot_text_shapes():
    timed = copilot_segments("[00:05] Менеджер: Добрый день\n\n01:10 Клиент: Итак: договорились")
    assert [(s.start, s.speaker, s.text) for s in timed] == [
        (5.0, "Менеджер", "Добрый день"),
        (70.0, "Клиент", "Итак: договорились"),
    ]
    plain = copilot_segments("Обсудили поставку, итог такой: отгрузка в пятницу.")
    assert [(s.speaker, s.text) for s in plain] == [(None, "Обсудили поставку, итог такой: отгрузка в пятницу.")]
    structured = copilot_segments([{"speaker": "Клиент", "text": "Алло", "start": 1.5, "end": 2.0}])
    assert [(s.start, s.end, s.speaker, s.text) for s in structured] == [(1.5, 2.0, "Клиент", "Алло")]


def test_login_page_an_older_version_kept_is_fetched_again(portal, env, instance):
    """Installs that stored the login page as the recording and failed it for good get the real one."""
    from warehouse.duck import connect, upsert

    assert dg.materialize([bitrix_clients, bitrix_activities], resources=all_resources(), instance=instance).success
    folder = env.data_dir / "bitrix_recordings"
    folder.mkdir(parents=True)
    (folder / "1.mp3").write_text(LOGIN_PAGE)
    (folder / "2.mp3").write_text("not audio either, but 2 stays as it was")
    failed = {"status": "transcription_failed", "reason": "не удалось прочитать звук", "provider": "speechkit"}
    with connect(env.warehouse_path) as con:
        upsert(con, "raw.bitrix_call_transcripts", [{"activity_id": 1, **failed}])
        upsert(con, "raw.bitrix_call_transcripts", [{"activity_id": 2, **failed, "status": "ok", "text": "готово"}])
    m = transcribe(instance, pull=False)
    assert (m["звонков с записью (к расшифровке)"], m["расшифровано"]) == (1, 1)
    assert transcripts(env)[1]["status"] == "ok" and kept_files(env) == ["1.ogg", "2.mp3"]


@pytest.mark.parametrize("fault, billed", [("broken stream", 1), ("lost submission", 2)])
def test_a_broken_off_recognition_is_retried_next_run(portal, env, instance, speechkit, fault, billed):
    """The SpeechKit service failed, not the recording: the call is pending and the next run transcribes it. A broken
    result stream leaves the operation in the ledger, so it is fetched, not paid again; an accepted submission
    whose answer was lost has no operation id to look up (no list of operations, api-design-guide/concepts/
    operation.md), so it is sent again — the one case where a retry may be billed twice."""
    portal.transcripts = {1: COPILOT_TEXT}  # only call 2 goes to SpeechKit
    if fault == "broken stream":
        speechkit.stream_faults = {1: "garbage"}
    else:
        speechkit.no_answer_after_accept = 1
    first = transcribe(instance)
    assert (first["расшифровано"], first["распознавание прервано (повтор при следующем запуске)"]) == (1, 1)
    assert first["ошибка распознавания"] == 0 and transcripts(env)[2]["status"] == "transcription_pending"
    assert len(speechkit.operations) == 1

    speechkit.stream_faults = {}
    second = transcribe(instance, pull=False)
    assert (second["звонков с записью (к расшифровке)"], second["расшифровано"]) == (1, 1)
    row = transcripts(env)[2]
    assert (row["status"], row["transcript_source"]) == ("ok", "speechkit") and "Договорились" in row["text"]
    assert len(speechkit.operations) == billed


def test_copilot_is_waited_for_on_a_fresh_call(portal, env, instance, speechkit, monkeypatch):
    """CoPilot's null on a call that just ended, or a transient error, is no «none»: the call waits; after
    C360_BITRIX_COPILOT_WAIT_HOURS a null sends it to SpeechKit."""
    fresh = env.now() - timedelta(minutes=30)
    portal.activities[2] = bd.call(2, 1, 7, fresh, record=502, portal=portal.url)
    first = transcribe(instance)
    assert (first["ждёт расшифровку Битрикс24"], first["ждёт расшифровку Битрикс24 (причина)"]) == (1, {"none": 1})
    assert first["источник расшифровки"] == {"speechkit": 1} and len(speechkit.audio) == 1, "only the old call 1"
    assert 2 not in transcripts(env) and kept_files(env) == ["1.ogg"], "call 2's recording not even fetched"

    monkeypatch.setenv("C360_TODAY", (env.today() + timedelta(days=1)).isoformat())  # the grace has passed
    monkeypatch.setenv("C360_BITRIX_LIMIT_WAIT_SECONDS", "0")
    portal.operating_limit = {"crm.activity.call.getTranscript": -1}  # OPERATION_TIME_LIMIT, not reset in time
    second = transcribe(instance, pull=False)
    assert second["ждёт расшифровку Битрикс24 (причина)"] == {"OPERATION_TIME_LIMIT": 1} and len(speechkit.audio) == 1

    portal.operating_limit = {}
    third = transcribe(instance, pull=False)
    assert third["ждёт расшифровку Битрикс24"] == 0 and third["без расшифровки CoPilot (причина)"] == {"none": 1}
    assert third["источник расшифровки"] == {"speechkit": 1} and len(speechkit.audio) == 2
    assert transcripts(env)[2]["status"] == "ok"


def test_a_recording_without_access_is_given_up_after_the_retries(portal, env, instance, speechkit, monkeypatch):
    monkeypatch.setenv("C360_BITRIX_RECORDING_RETRIES", "2")
    portal.download_login_page = True
    first = transcribe(instance)
    assert (first[NO_ACCESS], first["попытки исчерпаны (больше не повторяется)"]) == (2, {})
    second = transcribe(instance, pull=False)
    assert (second[NO_ACCESS], second["запись недоступна"]) == (0, 2)
    assert second["попытки исчерпаны (больше не повторяется)"] == {"recording_no_access": 2}
    row = transcripts(env)[1]
    assert row["status"] == "recording_unavailable" and row["attempts"] == 2
    assert "text/html" in row["reason"] and "больше не повторяется" in row["reason"]
    assert transcribe(instance, pull=False)["звонков с записью (к расшифровке)"] == 0 and speechkit.audio == []
