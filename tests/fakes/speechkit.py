"""Fake Yandex SpeechKit v3 async recognition: recognizeFileAsync → operations/{id} → getRecognition (NDJSON).

Follows yandex-cloud/docs: speechkit/stt-v3/api-ref/AsyncRecognizer/{recognizeFile,getRecognition}.md (request and
the stream of `{"result": ...}` lines), api-design-guide/concepts/operation.md (Operation, `GET /operations/{id}`),
_includes/speechkit/response-format.md (error codes: 400/3 INVALID_ARGUMENT, 429/8, 503/14, 401/16),
_includes/speechkit-limits.md (60 MB in a v3 request body, 4 h of audio) and api-design-guide/concepts/idempotency.md
(SpeechKit ignores Idempotency-Key: every accepted request is a new billed operation). An error inside a server
stream is sent by the REST gateway as a line `{"error": {...}}` (grpc-gateway's stream error).
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import time

from tests.fakes.server import FakeServer, Request

LIMIT_BYTES = 60 * 1024 * 1024
LIMIT_SECONDS = 4 * 3600


class _NoAnswer(Exception):
    """Raised in a handler: the connection is closed without an answer (a timeout or a dropped line)."""


def ogg_duration(audio: bytes) -> float:
    """Seconds of an OggOpus file from its container metadata (the last granule position), as a service would."""
    import av

    with av.open(io.BytesIO(audio)) as container:
        return (container.duration or 0) / 1_000_000


def phrases_every(seconds: float, duration: float, *, length: float = 4.0) -> list[tuple[float, float, int, str]]:
    """One utterance every `seconds` of audio, speakers alternating: what the fake hears in a long recording."""
    out, at, n = [], 1.0, 0
    while at + length <= duration:
        out.append((at, at + length, n % 2, f"Фраза номер {n + 1}."))
        at += seconds
        n += 1
    return out


def recognition_events(phrases: list[tuple[float, float, int, str]], normalized: bool = True) -> str:
    """NDJSON as getRecognition streams it: a `final` per utterance, then its `finalRefinement`."""
    lines = []
    for index, (start, end, channel, text) in enumerate(phrases):
        cursors = {"finalIndex": str(index), "resetTime": "0", "partialTimeMs": str(int(end * 1000))}
        raw = text.lower().rstrip(".")
        lines.append(
            {
                "result": {
                    "sessionUuid": {"uuid": "fake", "userRequestId": ""},
                    "audioCursors": cursors,
                    "responseWallTimeMs": "100",
                    "final": {
                        "alternatives": [
                            {
                                "words": [
                                    {
                                        "text": w,
                                        "startTimeMs": str(int(start * 1000)),
                                        "endTimeMs": str(int(end * 1000)),
                                    }
                                    for w in raw.split()
                                ],
                                "text": raw,
                                "startTimeMs": str(int(start * 1000)),
                                "endTimeMs": str(int(end * 1000)),
                                "confidence": 0.9,
                                "languages": [{"languageCode": "ru-RU", "probability": 1}],
                            }
                        ],
                        "channelTag": str(channel),
                    },
                    "channelTag": str(channel),
                }
            }
        )
        if normalized:
            lines.append(
                {
                    "result": {
                        "audioCursors": cursors,
                        "finalRefinement": {
                            "finalIndex": str(index),
                            "normalizedText": {
                                "alternatives": [
                                    {
                                        "text": text,
                                        "startTimeMs": str(int(start * 1000)),
                                        "endTimeMs": str(int(end * 1000)),
                                    }
                                ]
                            },
                        },
                        "channelTag": str(channel),
                    }
                }
            )
    return "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n"


class FakeSpeechKit(FakeServer):
    def __init__(self, api_key: str = "test-key", phrases=None, polls_until_done: int = 2):
        super().__init__()
        self.api_key = api_key
        self.phrases = phrases or [
            (0.5, 4.0, 0, "Добрый день, обсудим поставки на Ozon."),
            (4.5, 9.0, 1, "Договорились отгрузить партию до пятницы."),
        ]
        self.polls_until_done = polls_until_done
        self.operation_error: dict | None = None  # {"code": 3, "message": "..."} makes the operation fail
        self.rate_limit_next = 0
        # the service down: 503 with gRPC status UNAVAILABLE (14), as Yandex Cloud's REST gateway maps it
        # (https://yandex.cloud/ru/docs/api-design-guide/concepts/errors)
        self.unavailable = False
        self.operations: dict[str, dict] = {}  # every accepted request: a billed operation
        self.audio: list[bytes] = []
        self._ids = itertools.count(1)
        self.max_content_bytes = LIMIT_BYTES
        self.max_audio_seconds = LIMIT_SECONDS
        # the next N accepted requests get no answer: after `no_answer_delay` s the connection is closed (the client
        # sees a read timeout, or a dropped line when the delay is 0), yet the operation runs and is billed
        self.no_answer_after_accept = 0
        self.no_answer_delay = 0.0
        # faults of the result stream of the n-th operation (1-based): "garbage" (a line that is not JSON),
        # "error" (an `error` line after the first results, as when recognition fails midway)
        self.stream_faults: dict[int, str] = {}
        # phrases from the audio's duration (a long recording); None: the fixed `phrases`
        self.phrase_every: float | None = None

    def handle(self, req: Request):
        if self.unavailable:
            return 503, {}, {"code": 14, "message": "Service is unavailable", "details": []}
        if req.headers.get("authorization") != f"Api-Key {self.api_key}":
            return 401, {}, {"code": 16, "message": "Unauthenticated", "details": []}
        if req.method == "POST" and req.path == "/stt/v3/recognizeFileAsync":
            if self.rate_limit_next:
                self.rate_limit_next -= 1
                return 429, {"Retry-After": "0"}, {"code": 8, "message": "Too many requests", "details": []}
            body = req.json()
            audio = base64.b64decode(body["content"])
            fmt = body["recognitionModel"]["audioFormat"]["containerAudio"]["containerAudioType"]
            if fmt != "OGG_OPUS" or not audio.startswith(b"OggS"):
                return 400, {}, {"code": 3, "message": "Invalid audio: expected OggOpus container", "details": []}
            # the limits page names the limits, not the refusal's words: INVALID_ARGUMENT, as for any bad request
            if len(audio) > self.max_content_bytes:
                return 400, {}, {"code": 3, "message": "audio content size exceeds the limit", "details": []}
            duration = ogg_duration(audio)
            if duration > self.max_audio_seconds:
                return 400, {}, {"code": 3, "message": "audio duration exceeds the limit", "details": []}
            self.audio.append(audio)
            number = next(self._ids)
            op_id = f"f8d{number:017d}"
            self.operations[op_id] = {"polls": 0, "number": number, "duration": duration}
            if self.no_answer_after_accept:
                self.no_answer_after_accept -= 1
                time.sleep(self.no_answer_delay)
                raise _NoAnswer
            return 200, {}, self._operation(op_id, done=False)
        if req.method == "GET" and req.path.startswith("/operations/"):
            op_id = req.path.rsplit("/", 1)[-1]
            if op_id not in self.operations:
                return 404, {}, {"code": 5, "message": f"Operation {op_id} not found", "details": []}
            state = self.operations[op_id]
            state["polls"] += 1
            done = state["polls"] >= self.polls_until_done
            op = self._operation(op_id, done=done)
            if done and self.operation_error:
                op["error"] = self.operation_error
            return 200, {}, op
        if req.method == "GET" and req.path == "/stt/v3/getRecognition":
            # the REST reference spells the parameter operationId, the guides operation_id: the gateway takes both
            op_id = req.query.get("operation_id") or req.query.get("operationId")
            state = self.operations.get(op_id)
            if state is None or state["polls"] < self.polls_until_done:
                return 404, {}, {"code": 5, "message": "Operation not ready or not found", "details": []}
            phrases = self.phrases
            if self.phrase_every:
                phrases = phrases_every(self.phrase_every, state["duration"])
            body = recognition_events(phrases)
            fault = self.stream_faults.get(state["number"])
            if fault:
                lines = body.splitlines()
                bad = (
                    '{"result": {"final": {"alternatives": [{"text": "обры'
                    if fault == "garbage"
                    else json.dumps(
                        {
                            "error": {
                                "grpcCode": 13,
                                "httpCode": 500,
                                "message": "Internal error",
                                "httpStatus": "Internal Server Error",
                                "details": [],
                            }
                        }
                    )
                )
                body = "\n".join([*lines[:2], bad, *([] if fault == "error" else lines[2:])]) + "\n"
            return 200, {"Content-Type": "application/json"}, body
        return 404, {}, {"code": 5, "message": "Not found", "details": []}

    def start(self):
        super().start()
        default = self.httpd.handle_error

        def handle_error(request, client_address):  # a _NoAnswer is the connection closed on purpose
            import sys

            if not isinstance(sys.exc_info()[1], _NoAnswer):
                default(request, client_address)

        self.httpd.handle_error = handle_error
        return self

    @staticmethod
    def _operation(op_id: str, *, done: bool) -> dict:
        return {
            "id": op_id,
            "description": "STT v3 async recognition",
            "createdAt": "2026-11-24T10:00:00Z",
            "createdBy": "ajeexample",
            "modifiedAt": "2026-11-24T10:00:05Z",
            "done": done,
            "metadata": None,
        }


def long_recording(path, seconds: float, *, codec: str = "libopus", bitrate: int = 6000) -> None:
    """A genuine recording of `seconds` (tone and pauses) made in moments: 30 s encoded once with PyAV, its packets
    muxed again and again with shifted timestamps. mono OggOpus (`libopus`, 120 ms frames) or AAC in .m4a (`aac`)."""
    import av
    import numpy as np

    rate = 48000 if codec == "libopus" else 16000
    piece = io.BytesIO()
    with av.open(piece, "w", format="ogg" if codec == "libopus" else "mp4") as out:
        options = {"frame_duration": "120"} if codec == "libopus" else {}
        stream = out.add_stream(codec, rate=rate, options=options)
        stream.bit_rate = bitrate
        stream.layout = "mono"
        t = np.arange(30 * rate) / rate
        voice = (np.sin(2 * np.pi * t / 10) > 0) * 0.3 * np.sin(2 * np.pi * 440 * t)
        frame = av.AudioFrame.from_ndarray((voice * 32767).astype(np.int16)[None, :], format="s16", layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    data = piece.getvalue()
    with av.open(str(path), "w") as out:
        copy, offset = None, 0
        while offset < seconds * rate:
            with av.open(io.BytesIO(data)) as source:
                stream = source.streams.audio[0]
                copy = copy or out.add_stream_from_template(stream)
                first = end = None
                for packet in source.demux(stream):
                    if packet.dts is None:
                        continue
                    first = packet.dts if first is None else first
                    end = packet.dts + packet.duration
                    packet.pts += offset - first
                    packet.dts += offset - first
                    packet.stream = copy
                    out.mux(packet)
            offset += end - first
