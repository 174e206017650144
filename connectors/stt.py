"""Speech-to-text behind one interface: Yandex SpeechKit v3 async (REST) and sidecar transcript files."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from connectors.http import ExternalServiceError, HttpClient
from connectors.redact import redact

SIDECAR_EXTENSIONS = (".json", ".vtt", ".txt")
INLINE_LIMIT_BYTES = 60 * 1024 * 1024  # SpeechKit v3: audio sent in the request body is capped at 60 MB


class TranscriptionError(RuntimeError):
    """The recording could not be turned into text; the message names the file and the cause (never a secret)."""

    def __init__(self, message: str):
        super().__init__(redact(message))


@dataclass
class Segment:
    start: float | None
    end: float | None
    speaker: str | None
    text: str


@dataclass
class Transcript:
    provider: str
    segments: list[Segment] = field(default_factory=list)
    language: str = "ru"

    @property
    def text(self) -> str:
        return "\n".join(f"{s.speaker}: {s.text}" if s.speaker else s.text for s in self.segments)

    @property
    def duration(self) -> float | None:
        ends = [s.end for s in self.segments if s.end is not None]
        return max(ends) if ends else None

    def segments_json(self) -> str:
        return json.dumps([asdict(s) for s in self.segments], ensure_ascii=False)


class SttProvider(Protocol):
    name: str

    def transcribe(self, media_path: Path) -> Transcript: ...


# ---------------------------------------------------------------- sidecar


def _clock(value: str) -> float:
    parts = [float(p) for p in value.replace(",", ".").split(":")]
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


_VTT_TIME = re.compile(r"^\s*([\d:.,]+)\s*-->\s*([\d:.,]+)")
_VTT_VOICE = re.compile(r"^<v(?:\.[^ >]*)?\s+([^>]+)>(.*?)(?:</v>)?$")
_TXT_LINE = re.compile(
    r"^(?:\[?(?P<clock>\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)\]?\s*)?(?:(?P<speaker>[^:\n]{1,60}?):\s+)?(?P<text>.+)$"
)


def parse_vtt(text: str) -> list[Segment]:
    segments: list[Segment] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _VTT_TIME.match(lines[i])
        i += 1
        if not m:
            continue
        body: list[str] = []
        while i < len(lines) and lines[i].strip():
            body.append(lines[i].strip())
            i += 1
        raw = " ".join(body)
        speaker = None
        voice = _VTT_VOICE.match(raw)
        if voice:
            speaker, raw = voice.group(1).strip(), voice.group(2)
        raw = re.sub(r"<[^>]+>", "", raw).strip()
        if raw:
            segments.append(Segment(_clock(m.group(1)), _clock(m.group(2)), speaker, raw))
    return segments


def parse_txt(text: str) -> list[Segment]:
    segments: list[Segment] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        m = _TXT_LINE.match(line)
        start = _clock(m.group("clock")) if m.group("clock") else None
        segments.append(Segment(start, None, (m.group("speaker") or "").strip() or None, m.group("text").strip()))
    return segments


def parse_json_transcript(text: str) -> list[Segment]:
    data = json.loads(text)
    items = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError("ожидался список сегментов или объект с ключом 'segments'")
    out = []
    for item in items:
        if not isinstance(item, dict) or not str(item.get("text", "")).strip():
            continue
        out.append(Segment(item.get("start"), item.get("end"), item.get("speaker"), str(item["text"]).strip()))
    return out


def find_sidecar(media_path: Path) -> Path | None:
    for ext in SIDECAR_EXTENSIONS:
        candidate = media_path.with_suffix(ext)
        if candidate.is_file():
            return candidate
    return None


class SidecarStt:
    """Reads a transcript lying next to the recording (<name>.json / .vtt / .txt)."""

    name = "sidecar"

    def transcribe(self, media_path: Path) -> Transcript:
        sidecar = find_sidecar(media_path)
        if sidecar is None:
            raise TranscriptionError(
                f"{media_path}: рядом нет файла расшифровки ({', '.join(SIDECAR_EXTENSIONS)}); "
                "для распознавания звука включите C360_STT_PROVIDER=speechkit"
            )
        try:
            text = sidecar.read_text(encoding="utf-8-sig")
            parser = {".vtt": parse_vtt, ".json": parse_json_transcript}.get(sidecar.suffix, parse_txt)
            segments = parser(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TranscriptionError(f"{sidecar}: файл расшифровки повреждён: {exc}") from exc
        if not segments:
            raise TranscriptionError(f"{sidecar}: файл расшифровки пуст")
        return Transcript(provider=self.name, segments=segments)


# ---------------------------------------------------------------- audio


def extract_audio(media_path: Path, *, bitrate: int = 32000, silence_peak: float = 0.003) -> bytes:
    """Decode the first audio track and re-encode it as mono 48 kHz OggOpus (PyAV ships its own codecs)."""
    import av
    import numpy as np

    out = io.BytesIO()
    peak = 0.0
    try:
        with av.open(str(media_path)) as source:
            if not source.streams.audio:
                raise TranscriptionError(f"{media_path}: в файле нет звуковой дорожки")
            stream = source.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
            with av.open(out, mode="w", format="ogg") as target:
                encoder = target.add_stream("libopus", rate=48000)
                encoder.bit_rate = bitrate
                encoder.layout = "mono"
                for frame in source.decode(stream):
                    for chunk in resampler.resample(frame):
                        samples = chunk.to_ndarray()
                        if samples.size:
                            peak = max(peak, float(np.abs(samples).max()) / 32768.0)
                        target.mux(encoder.encode(chunk))
                for chunk in resampler.resample(None):
                    target.mux(encoder.encode(chunk))
                target.mux(encoder.encode(None))
    except TranscriptionError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise TranscriptionError(f"{media_path}: не удалось прочитать звук ({type(exc).__name__}: {exc})") from exc
    if peak < silence_peak:
        raise TranscriptionError(f"{media_path}: в записи тишина (пиковая громкость {peak:.4f})")
    return out.getvalue()


# ---------------------------------------------------------------- SpeechKit


class SpeechKitStt(HttpClient):
    """Yandex SpeechKit STT v3 asynchronous file recognition over REST."""

    name = "speechkit"
    service = "Yandex SpeechKit"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://stt.api.cloud.yandex.net",
        operation_url: str = "https://operation.api.cloud.yandex.net",
        folder_id: str | None = None,
        model: str = "general",
        timeout_seconds: float = 4 * 3600,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
        **kwargs,
    ):
        if not api_key:
            raise ExternalServiceError(self.service, "не задан YANDEX_API_KEY")
        headers = {"Authorization": f"Api-Key {api_key}"}
        if folder_id:
            headers["x-folder-id"] = folder_id
        super().__init__(base_url, headers=headers, **kwargs)
        self._operations = HttpClient(operation_url, headers=headers, **kwargs)
        self._operations.service = self.service
        self.model = model
        self.timeout_seconds = timeout_seconds
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval

    def close(self) -> None:
        super().close()
        self._operations.close()

    def submit(self, audio: bytes) -> str:
        body = {
            "content": base64.b64encode(audio).decode("ascii"),
            "recognitionModel": {
                "model": self.model,
                "audioFormat": {"containerAudio": {"containerAudioType": "OGG_OPUS"}},
                "textNormalization": {
                    "textNormalization": "TEXT_NORMALIZATION_ENABLED",
                    "literatureText": True,
                    "profanityFilter": False,
                },
                "languageRestriction": {"restrictionType": "WHITELIST", "languageCode": ["ru-RU"]},
                "audioProcessingType": "FULL_DATA",
            },
            "speakerLabeling": {"speakerLabeling": "SPEAKER_LABELING_ENABLED"},
        }
        # up to 60 MB of audio (80 MB as base64) may take minutes to upload on a VPS uplink
        import httpx

        upload_timeout = httpx.Timeout(60.0, write=900.0)
        return self.request("POST", "/stt/v3/recognizeFileAsync", json=body, timeout=upload_timeout).json()["id"]

    def wait(self, operation_id: str) -> None:
        deadline = time.monotonic() + self.timeout_seconds
        interval = self.poll_interval
        while True:
            op = self._operations.request("GET", f"/operations/{operation_id}").json()
            if op.get("done"):
                if op.get("error"):
                    err = op["error"]
                    raise ExternalServiceError(
                        self.service,
                        f"распознавание {operation_id} завершилось ошибкой {err.get('code')}: {err.get('message')}",
                    )
                return
            if time.monotonic() + interval > deadline:
                raise ExternalServiceError(
                    self.service, f"распознавание {operation_id} не закончилось за {self.timeout_seconds:.0f} с"
                )
            time.sleep(interval)
            interval = min(self.max_poll_interval, interval * 1.5)

    def fetch(self, operation_id: str) -> list[Segment]:
        response = self.request("GET", "/stt/v3/getRecognition", params={"operation_id": operation_id})
        return parse_recognition_stream(response.text)

    def transcribe(self, media_path: Path) -> Transcript:
        audio = extract_audio(media_path)
        if len(audio) > INLINE_LIMIT_BYTES:
            raise TranscriptionError(
                f"{media_path}: звук после сжатия {len(audio) / 2**20:.0f} МБ, больше лимита SpeechKit 60 МБ"
            )
        try:
            operation_id = self.submit(audio)
            self.wait(operation_id)
            segments = self.fetch(operation_id)
        except ExternalServiceError as exc:
            raise TranscriptionError(f"{media_path}: {exc}") from exc
        if not segments:
            raise TranscriptionError(f"{media_path}: SpeechKit не распознал речь (пустой результат)")
        return Transcript(provider=self.name, segments=segments)


def parse_recognition_stream(body: str) -> list[Segment]:
    """Parse getRecognition's newline-delimited JSON; normalized text (finalRefinement) wins over raw final."""
    finals: dict[tuple[str, str], Segment] = {}
    order: list[tuple[str, str]] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        event = json.loads(line).get("result", {})
        channel = str(event.get("channelTag", "0"))
        if "final" in event:
            alts = event["final"].get("alternatives") or []
            if not alts or not alts[0].get("text", "").strip():
                continue
            key = (channel, str((event.get("audioCursors") or {}).get("finalIndex", len(order))))
            alt = alts[0]
            if key not in finals:
                order.append(key)
            finals[key] = Segment(
                int(alt.get("startTimeMs", 0)) / 1000,
                int(alt.get("endTimeMs", 0)) / 1000,
                f"Спикер {int(channel) + 1}",
                alt["text"].strip(),
            )
        elif "finalRefinement" in event:
            ref = event["finalRefinement"]
            key = (channel, str(ref.get("finalIndex", "")))
            alts = (ref.get("normalizedText") or {}).get("alternatives") or []
            if key in finals and alts and alts[0].get("text", "").strip():
                finals[key].text = alts[0]["text"].strip()
    segments = [finals[k] for k in order]
    segments.sort(key=lambda s: s.start or 0.0)
    return segments
