"""Speech-to-text: audio extraction with PyAV and SpeechKit v3 async recognition against a local fake."""

import io
import json
from datetime import datetime

import pytest

from connectors.stt import (
    Segment,
    SidecarStt,
    SpeechKitStt,
    TranscriptionError,
    merge_parts,
    parse_recognition_stream,
    parse_txt,
    parse_vtt,
    write_opus,
)
from devkit.demo import write_tone
from orchestration.definitions import build_defs
from orchestration.run_once import run_once
from tests.conftest import jibri
from tests.fakes.speechkit import FakeSpeechKit, long_recording, recognition_events
from warehouse.duck import connect


def client(server: FakeSpeechKit, **kw) -> SpeechKitStt:
    return SpeechKitStt(
        server.api_key, base_url=server.url, operation_url=server.url, poll_interval=0.01, base_delay=0.01, **kw
    )


def test_write_opus_makes_mono_oggopus(tmp_path):
    media = tmp_path / "call.mp4"
    write_tone(media, seconds=2)
    out = io.BytesIO()
    write_opus(media, out)
    audio = out.getvalue()
    assert audio.startswith(b"OggS") and b"OpusHead" in audio[:200]


def test_silent_and_corrupt_files_fail_with_the_file_named(tmp_path):
    silent = tmp_path / "silent.mp4"
    write_tone(silent, seconds=1, amplitude=0.0)
    with pytest.raises(TranscriptionError, match=r"silent\.mp4: в записи тишина"):
        write_opus(silent, io.BytesIO())
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x01not a media file" * 100)
    with pytest.raises(TranscriptionError, match=r"corrupt\.mp4: не удалось прочитать звук"):
        write_opus(corrupt, io.BytesIO())


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


def test_broken_or_error_line_of_the_result_fails_only_that_recording(
    env, recordings, instance, speechkit, monkeypatch
):
    """A result line that is not JSON, or an `error` line after some results: that recording fails with the cause
    named, nothing of it is stored as a transcript; the other recording of the cycle is stored."""
    monkeypatch.setenv("C360_STT_PROVIDER", "speechkit")
    speechkit.polls_until_done = 1
    speechkit.stream_faults = {1: "garbage", 2: "error"}
    for n in range(3):
        media = next(jibri(recordings, f"sf{n}", f"4100{n}", datetime(2026, 11, 24, 10 + n), lines=None).glob("*.mp4"))
        write_tone(media, seconds=1)

    report = run_once(build_defs(), instance, env, log=lambda *_: None)
    reasons = " | ".join(reason for _, reason in report.failed)
    assert len(report.succeeded) == 1 and len(report.failed) == 2, report
    assert "SpeechKit прервал выдачу результата ошибкой 13: Internal error" in reasons
    assert "ответ SpeechKit повреждён: строка 3 результата — не JSON" in reasons
    with connect(env.warehouse_path, read_only=True) as con:
        assert con.execute("select count(*) from raw.meeting_transcripts").fetchone()[0] == 1


def test_stream_error_shapes():
    ok = recognition_events([(0, 1, 0, "Привет.")])
    for error, named in (
        (
            {"grpcCode": 4, "httpCode": 504, "message": "deadline", "httpStatus": "Gateway Timeout"},
            "ошибкой 4: deadline",
        ),
        ({"code": 13, "message": "Internal"}, "ошибкой 13: Internal"),
    ):
        with pytest.raises(TranscriptionError, match=named):
            parse_recognition_stream(ok + json.dumps({"error": error}) + "\n")
    with pytest.raises(TranscriptionError, match="строка 1 результата — не объект JSON"):
        parse_recognition_stream("[1]\n")


def test_a_lost_answer_to_a_submission_does_not_start_a_second_operation(tmp_path):
    """The request reached SpeechKit (billed) but its answer was lost — the line dropped, or a read timeout: no second
    recognizeFileAsync in this run (SpeechKit honours no idempotency key), the recording fails saying why."""
    media = tmp_path / "m.mp4"
    write_tone(media)
    for delay, timeout in ((0.0, 5.0), (0.5, 0.2)):
        with FakeSpeechKit() as server, client(server, timeout=timeout, ledger_path=tmp_path / "ops.sqlite") as stt:
            server.no_answer_after_accept, server.no_answer_delay = 1, delay
            with pytest.raises(TranscriptionError, match=r"m\.mp4: SpeechKit не ответил на отправку .*мог быть принят"):
                stt.transcribe(media)
            assert len(server.operations) == 1


def test_an_operation_started_before_a_crash_is_fetched_not_paid_again(tmp_path):
    """The operation id is kept as soon as SpeechKit gives it: the next run waits for that operation."""
    media = tmp_path / "m.mp4"
    write_tone(media)
    ledger = tmp_path / "ops.sqlite"
    with FakeSpeechKit(polls_until_done=10**6) as server:
        with client(server, timeout_seconds=0.05, ledger_path=ledger) as stt, pytest.raises(TranscriptionError):
            stt.transcribe(media)  # the run dies waiting
        server.polls_until_done = 1
        with client(server, ledger_path=ledger) as stt:
            assert stt.transcribe(media).segments
        assert len(server.operations) == 1


def test_three_hour_recording_is_recognised_in_parts_on_one_time_line(tmp_path):
    """3 hours against a service that takes at most 1 hour per request: parts cut from the audio, each accepted, the
    utterances merged with continuous, increasing times, none twice from an overlap."""
    media = tmp_path / "long.ogg"
    long_recording(media, 3 * 3600)
    with FakeSpeechKit(polls_until_done=1) as server:
        server.max_audio_seconds, server.phrase_every = 3600, 60.0
        with client(server) as stt, pytest.raises(TranscriptionError, match="HTTP 400.*C360_SPEECHKIT_MAX_AUDIO"):
            stt.transcribe(media)  # the client thinks 4 h are allowed: the service refuses, nothing is billed
        assert not server.operations
        with client(server, max_audio_seconds=3600) as stt:
            transcript = stt.transcribe(media)
        durations = [op["duration"] for op in server.operations.values()]
    assert len(durations) == 4 and all(d <= 3600 for d in durations)
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert starts[0] < 2 and transcript.duration > 3 * 3600 - 70
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert max(gaps) <= 60 + 10 + 1, "no utterance lost at a part's edge"
    assert min(gaps) >= 60 - 10 - 1, "none taken twice from an overlap"


def test_merge_parts_shifts_dedupes_and_keeps_speakers():
    first = [Segment(0, 4, "Спикер 1", "раз"), Segment(90, 96, "Спикер 2", "два"), Segment(97, 99, "Спикер 1", "три")]
    # the second part starts at 90 s; SpeechKit named the voices the other way round there
    second = [Segment(0, 6, "Спикер 1", "два"), Segment(7, 9, "Спикер 2", "три"), Segment(20, 25, "Спикер 1", "четыре")]
    merged = merge_parts([(0.0, 100.0, first), (90.0, 200.0, second)])
    assert [(s.start, s.speaker, s.text) for s in merged] == [
        (0, "Спикер 1", "раз"),
        (90, "Спикер 2", "два"),
        (97, "Спикер 1", "три"),
        (110.0, "Спикер 2", "четыре"),
    ]
