"""Fake Yandex SpeechKit v3 async recognition: recognizeFileAsync → operations/{id} → getRecognition (NDJSON)."""

from __future__ import annotations

import base64
import itertools
import json

from tests.fakes.server import FakeServer, Request


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
        self.operations: dict[str, dict] = {}
        self.audio: list[bytes] = []
        self._ids = itertools.count(1)

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
            self.audio.append(audio)
            op_id = f"f8d{next(self._ids):017d}"
            self.operations[op_id] = {"polls": 0}
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
            op_id = req.query.get("operation_id")
            state = self.operations.get(op_id)
            if state is None or state["polls"] < self.polls_until_done:
                return 404, {}, {"code": 5, "message": "Operation not ready or not found", "details": []}
            return 200, {"Content-Type": "application/json"}, recognition_events(self.phrases)
        return 404, {}, {"code": 5, "message": "Not found", "details": []}

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
