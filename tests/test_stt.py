"""Speech-to-text: audio extraction with PyAV and SpeechKit v3 async recognition against a local fake."""

from datetime import datetime

import pytest

from connectors.stt import (
    SidecarStt,
    SpeechKitStt,
    TranscriptionError,
    extract_audio,
    parse_recognition_stream,
    parse_txt,
    parse_vtt,
)
from devkit.demo import write_tone
from orchestration.definitions import build_defs
from orchestration.run_once import run_once
from tests.conftest import jibri
from tests.fakes.speechkit import FakeSpeechKit, recognition_events
from warehouse.duck import connect


def client(server: FakeSpeechKit, **kw) -> SpeechKitStt:
    return SpeechKitStt(
        server.api_key, base_url=server.url, operation_url=server.url, poll_interval=0.01, base_delay=0.01, **kw
    )


def test_extract_audio_makes_mono_oggopus(tmp_path):
    media = tmp_path / "call.mp4"
    write_tone(media, seconds=2)
    audio = extract_audio(media)
    assert audio.startswith(b"OggS") and b"OpusHead" in audio[:200]


def test_silent_and_corrupt_files_fail_with_the_file_named(tmp_path):
    silent = tmp_path / "silent.mp4"
    write_tone(silent, seconds=1, amplitude=0.0)
    with pytest.raises(TranscriptionError, match=r"silent\.mp4: в записи тишина"):
        extract_audio(silent)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x01not a media file" * 100)
    with pytest.raises(TranscriptionError, match=r"corrupt\.mp4: не удалось прочитать звук"):
        extract_audio(corrupt)


def test_speechkit_async_recognition_round_trip(tmp_path):
    media = tmp_path / "meeting.mp4"
    write_tone(media, seconds=2)
    with FakeSpeechKit(polls_until_done=3) as server, client(server) as stt:
        transcript = stt.transcribe(media)
        polls = [r for r in server.requests if r.path.startswith("/operations/")]
    assert len(polls) == 3
    assert [s.text for s in transcript.segments] == [
        "Добрый день, обсудим поставки на Ozon.",
        "Договорились отгрузить партию до пятницы.",
    ], "normalized text (finalRefinement) wins over the raw final"
    assert transcript.segments[1].speaker == "Спикер 2" and transcript.segments[1].start == 4.5
    assert transcript.duration == 9.0 and transcript.provider == "speechkit"
    assert server.audio[0].startswith(b"OggS")


def test_speechkit_rate_limit_is_retried_and_errors_are_clear(tmp_path):
    media = tmp_path / "m.mp4"
    write_tone(media)
    with FakeSpeechKit() as server:
        server.rate_limit_next = 2
        with client(server) as stt:
            assert stt.transcribe(media).segments
        submits = [r for r in server.requests if r.path == "/stt/v3/recognizeFileAsync"]
        assert len(submits) == 3

        server.operation_error = {"code": 3, "message": "audio is too short"}
        with client(server) as stt, pytest.raises(TranscriptionError, match=r"m\.mp4: .*ошибкой 3: audio is too short"):
            stt.transcribe(media)


def test_speechkit_wrong_key_is_not_retried(tmp_path):
    media = tmp_path / "m.mp4"
    write_tone(media)
    with FakeSpeechKit() as server:
        with SpeechKitStt("wrong", base_url=server.url, operation_url=server.url) as stt:
            with pytest.raises(TranscriptionError, match="HTTP 401.*Unauthenticated"):
                stt.transcribe(media)
        assert len(server.requests) == 1


def test_speechkit_operation_timeout(tmp_path):
    media = tmp_path / "long.mp4"
    write_tone(media)
    with FakeSpeechKit(polls_until_done=10**6) as server, client(server, timeout_seconds=0.2) as stt:
        with pytest.raises(TranscriptionError, match="не закончилось за"):
            stt.transcribe(media)


def test_recognition_stream_without_refinement_uses_raw_final():
    body = recognition_events([(0, 1, 0, "Привет."), (1, 2, 0, "Пока.")], normalized=False)
    assert [s.text for s in parse_recognition_stream(body)] == ["привет", "пока"]


def test_sidecar_formats(tmp_path):
    vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:03.500\n<v Анна>Добрый день\n\n00:01:00.000 --> 00:01:02.000\nБез голоса\n"
    segs = parse_vtt(vtt)
    assert [(s.start, s.end, s.speaker, s.text) for s in segs] == [
        (1.0, 3.5, "Анна", "Добрый день"),
        (60.0, 62.0, None, "Без голоса"),
    ]
    txt = parse_txt("[00:01:05] Ольга: Есть пересорт.\nПросто строка")
    assert [(s.start, s.speaker, s.text) for s in txt] == [
        (65.0, "Ольга", "Есть пересорт."),
        (None, None, "Просто строка"),
    ]

    media = tmp_path / "x.mp4"
    media.write_bytes(b"")
    (tmp_path / "x.json").write_text('{"segments": [{"start": 0, "end": 2, "speaker": "A", "text": "Да"}]}')
    assert SidecarStt().transcribe(media).text == "A: Да"
    (tmp_path / "x.json").write_text("{broken")
    with pytest.raises(TranscriptionError, match=r"x\.json: файл расшифровки повреждён"):
        SidecarStt().transcribe(media)


def test_pipeline_with_speechkit_provider(env, recordings, instance, speechkit, monkeypatch):
    """The meeting assets with C360_STT_PROVIDER=speechkit: a real mp4 goes through the fake SpeechKit."""
    monkeypatch.setenv("C360_STT_PROVIDER", "speechkit")
    speechkit.polls_until_done = 1
    jibri(recordings, "sk1", "31337", datetime(2026, 11, 24, 11, 0, 0), lines=None)
    silent = jibri(recordings, "sk2", "31338", datetime(2026, 11, 24, 12, 0, 0), lines=None)
    media = next(silent.glob("*.mp4"))
    write_tone(media, amplitude=0.0)

    report = run_once(build_defs(), instance, env, log=lambda *_: None)
    assert len(report.succeeded) == 1
    [(_, reason)] = report.failed
    assert media.name in reason and "тишина" in reason
    with connect(env.warehouse_path, read_only=True) as con:
        [(provider, text, n)] = con.execute(
            "select provider, text, segment_count from raw.meeting_transcripts"
        ).fetchall()
    assert provider == "speechkit" and n == 2 and "Спикер 2: Договорились отгрузить партию" in text
    assert len(speechkit.audio) == 1, "the silent file was never sent"
