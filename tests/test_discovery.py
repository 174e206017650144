import json
import os
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from assets.meetings.discovery import RecordingsFolder, lead_id_from_room, split_jibri_name
from tests.conftest import jibri

TZ = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    "room, prefix, lead",
    [
        ("client-12345", "client", "12345"),
        ("client_12345_anything", "client", "12345"),
        ("Client12345", "client", "12345"),
        ("client-12345-itogi-mesyaca", "client", "12345"),
        ("lead-777", "lead", "777"),
        ("client-abc", "client", None),
        ("planerka", "client", None),
        ("myclient-12345", "client", None),
        ("client-12345", "lead", None),
    ],
)
def test_lead_id_from_room(room, prefix, lead):
    assert lead_id_from_room(room, prefix) == lead


def test_jibri_file_name_keeps_underscored_room_and_local_time():
    assert split_jibri_name("client_12345_x_2026-11-20-10-05-07") == (
        "client_12345_x",
        datetime(2026, 11, 20, 10, 5, 7),
    )
    assert split_jibri_name("zapis") == ("zapis", None)


def test_jibri_session_taken_only_with_metadata(recordings):
    folder = RecordingsFolder(recordings, prefix="client", tz=TZ)
    session = jibri(
        recordings,
        "sess-a1",
        "555",
        datetime(2026, 11, 24, 11, 0, 0),
        participants=[{"id": "u1", "name": "Анна"}],
        extra={"share": True},
    )
    meta = (session / "metadata.json").read_text()
    (session / "metadata.json").unlink()
    assert folder.scan(now=time.time()).ready == []  # Jibri still recording

    (session / "metadata.json").write_text(meta)
    [rec] = folder.scan(now=time.time()).ready
    assert (rec.client_id, rec.kind, rec.room) == ("555", "jibri", "client-555")
    assert rec.started_at == datetime(2026, 11, 24, 11, 0, 0)
    assert rec.participants == ("Анна",)
    assert rec.extra == {"share": True}
    assert rec.meeting_url == "https://meet.ff-sklad.ru/client-555"


def test_lead_id_from_metadata_wins_over_room(recordings):
    jibri(recordings, "sess-b", "1", datetime(2026, 11, 24, 9, 0, 0), extra={"lead_id": "98765"})
    [rec] = RecordingsFolder(recordings, prefix="client", tz=TZ).scan(now=time.time()).ready
    assert rec.client_id == "98765"


def test_broken_metadata_is_kept_and_noted(recordings):
    session = jibri(recordings, "sess-c", "42", datetime(2026, 11, 24, 9, 0, 0))
    (session / "metadata.json").write_text("{not json")
    [rec] = RecordingsFolder(recordings, prefix="client", tz=TZ).scan(now=time.time()).ready
    assert rec.client_id == "42"
    assert "metadata.json не читается" in rec.extra["metadata_error"]


def test_unmatched_room_is_reported(recordings):
    from devkit.demo import write_jibri_session

    write_jibri_session(recordings, "sess-d", "planerka", datetime(2026, 11, 24, 18, 0, 0), [("А", "Привет")])
    result = RecordingsFolder(recordings, prefix="client", tz=TZ).scan(now=time.time())
    assert result.ready == []
    [u] = result.unmatched
    assert u.room == "planerka" and "нет ID лида" in u.reason


def test_growing_plain_file_waits_until_it_stops_growing(recordings):
    folder = RecordingsFolder(recordings, prefix="client", tz=TZ, quiet_seconds=300)
    media = recordings / "client_321_phone.ogg"
    media.write_bytes(b"x" * 1000)
    now = time.time()
    first = folder.scan({}, now=now)
    assert first.ready == [] and "client_321_phone.ogg" in first.pending

    with media.open("ab") as f:
        f.write(b"y" * 1000)
    os.utime(media, (now + 60, now + 60))
    second = folder.scan(first.pending, now=now + 60)
    assert second.ready == [], "a file that grew since the last tick is not complete"

    third = folder.scan(second.pending, now=now + 120)
    [rec] = third.ready
    assert rec.size == 2000 and rec.client_id == "321" and rec.kind == "file"


def test_old_plain_file_is_taken_without_a_previous_tick(recordings):
    media = recordings / "client_77.m4a"
    media.write_bytes(b"z" * 10)
    old = time.time() - 3600
    os.utime(media, (old, old))
    [rec] = RecordingsFolder(recordings, prefix="client", tz=TZ).scan({}, now=time.time()).ready
    assert rec.started_at == datetime.fromtimestamp(old, TZ).replace(tzinfo=None)


def test_recording_id_is_stable_and_findable(recordings):
    jibri(recordings, "sess-e", "900", datetime(2026, 11, 24, 12, 30, 0))
    folder = RecordingsFolder(recordings, prefix="client", tz=TZ)
    [a] = folder.scan(now=time.time()).ready
    [b] = folder.scan(now=time.time()).ready
    assert a.recording_id == b.recording_id and a.recording_id.startswith("20261124-123000-900-")
    assert folder.find(a.recording_id, now=time.time()).media_path == a.media_path
    assert json.loads((a.session_dir / "metadata.json").read_text())["meeting_url"].endswith("client-900")
