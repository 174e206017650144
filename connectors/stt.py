"""Speech-to-text behind one interface: Yandex SpeechKit v3 async (REST) and sidecar transcript files."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import re
import sqlite3
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from connectors.http import ExternalServiceError, HttpClient
from connectors.redact import redact

log = logging.getLogger(__name__)

SIDECAR_EXTENSIONS = (".json", ".vtt", ".txt")
# SpeechKit async recognition limits ("Quotas and limits", yandex-cloud/docs _includes/speechkit-limits): audio sent in
# an API v3 request body up to 60 MB, audio up to 4 hours, results kept on the server 3 days
INLINE_LIMIT_BYTES = 60 * 1024 * 1024
MAX_AUDIO_SECONDS = 4 * 3600.0
RESULTS_KEPT_SECONDS = 3 * 24 * 3600.0


class TranscriptionError(RuntimeError):
    """The recording could not be turned into text; the message names the file and the cause (never a secret).
    `retry_next_run`: the service failed, not the recording (a lost answer, a broken result stream, the service
    unreachable) — worth trying again on a later run; an operation the ledger knows is fetched then, not paid again."""

    def __init__(self, message: str, *, retry_next_run: bool = False):
        super().__init__(redact(message))
        self.retry_next_run = retry_next_run


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

OPUS_RATE = 48000


@dataclass
class Part:
    """One piece of a recording sent to recognition: its OggOpus bytes live in `path`, `offset` seconds into it."""

    index: int
    offset: float
    duration: float
    path: Path


def _is_mono_opus(stream) -> bool:
    return stream.codec_context.name == "opus" and stream.codec_context.channels == 1


def write_opus(media_path: Path, target, *, bitrate: int = 32000, silence_peak: float = 0.003) -> float:
    """The first audio track as mono 48 kHz OggOpus into `target` (a path or a file object), decoded and encoded with
    PyAV's own codecs; returns its duration in seconds. A silent recording is refused."""
    import av
    import numpy as np

    peak, duration = 0.0, 0.0
    try:
        with av.open(str(media_path)) as source:
            if not source.streams.audio:
                raise TranscriptionError(f"{media_path}: в файле нет звуковой дорожки")
            stream = source.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=OPUS_RATE)
            with av.open(target, mode="w", format="ogg") as out:
                encoder = out.add_stream("libopus", rate=OPUS_RATE)
                encoder.bit_rate = bitrate
                encoder.layout = "mono"
                samples_out = 0
                for frame in source.decode(stream):
                    for chunk in resampler.resample(frame):
                        samples = chunk.to_ndarray()
                        if samples.size:
                            peak = max(peak, float(np.abs(samples).max()) / 32768.0)
                        samples_out += chunk.samples
                        out.mux(encoder.encode(chunk))
                for chunk in resampler.resample(None):
                    samples_out += chunk.samples
                    out.mux(encoder.encode(chunk))
                out.mux(encoder.encode(None))
                duration = samples_out / OPUS_RATE
    except TranscriptionError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise TranscriptionError(f"{media_path}: не удалось прочитать звук ({type(exc).__name__}: {exc})") from exc
    if peak < silence_peak:
        raise TranscriptionError(f"{media_path}: в записи тишина (пиковая громкость {peak:.4f})")
    return duration


def _base64_size(size: int) -> int:
    """Bytes of `size` bytes as base64: the limits page caps "the file size when uploading in an API v3 request body"
    at 60 MB without saying whether before or after the encoding; the larger reading is the safe one."""
    return 4 * math.ceil(size / 3)


def plan_parts(duration: float, size: int, *, max_bytes: int, max_seconds: float, overlap: float) -> list[tuple]:
    """[(start, end)] seconds: equal windows, each under both limits (a 5% margin: Ogg pages, base64 rounding), the
    next starting `overlap` seconds before the previous ends so no word is cut in both."""
    count = max(1, math.ceil(max(duration / (0.95 * max_seconds), size / (0.95 * max_bytes))))
    if count == 1:
        return [(0.0, duration)]
    step = (duration + (count - 1) * overlap) / count
    return [(max(0.0, i * (step - overlap)), min(duration, i * (step - overlap) + step)) for i in range(count)]


def cut_parts(opus_path: Path, spans: list[tuple], folder: Path) -> list[Part]:
    """Copy the OggOpus packets of each span into its own file (one pass, no decoding); each part starts at 0."""
    import av

    parts: list[Part] = []
    with av.open(str(opus_path)) as source:
        stream = source.streams.audio[0]
        rate = 1 / stream.time_base
        outs, firsts, lasts = [], [None] * len(spans), [0] * len(spans)
        with contextlib.ExitStack() as stack:
            for i in range(len(spans)):
                out = stack.enter_context(av.open(str(folder / f"part{i:03d}.ogg"), mode="w", format="ogg"))
                outs.append((out, out.add_stream_from_template(stream)))
            bounds = [(int(start * rate), int(end * rate)) for start, end in spans]
            bounds[-1] = (bounds[-1][0], math.inf)
            for packet in source.demux(stream):
                if packet.dts is None:
                    continue
                pts = packet.pts
                targets = [i for i, (start, end) in enumerate(bounds) if start <= pts < end]
                for n, i in enumerate(targets):
                    if firsts[i] is None:
                        firsts[i] = pts
                    piece = packet
                    if n < len(targets) - 1:  # in an overlap: the same packet goes to two parts
                        piece = av.Packet(bytes(packet))
                        piece.duration = packet.duration
                        piece.time_base = packet.time_base
                    piece.pts = piece.dts = pts - firsts[i]
                    out, copy = outs[i]
                    piece.stream = copy
                    out.mux(piece)
                    lasts[i] = pts + (packet.duration or 0)
    for i, _ in enumerate(spans):
        first = firsts[i] or 0
        parts.append(Part(i, float(first / rate), float((lasts[i] - first) / rate), folder / f"part{i:03d}.ogg"))
    return parts


def merge_parts(parts: list[tuple[float, float | None, list[Segment]]]) -> list[Segment]:
    """Segments of consecutive parts [(offset, end of the part, segments in part time)] on one time line: shifted by
    the part's offset; in an overlap an utterance is kept from the part where it starts before the overlap's middle;
    speaker labels of a part renamed to those the previous part gave the same voices in the overlap."""
    merged: list[Segment] = []
    previous: list[Segment] = []
    for k, (offset, _end, segments) in enumerate(parts):
        shifted = [Segment(_add(s.start, offset), _add(s.end, offset), s.speaker, s.text) for s in segments]
        if k and previous:
            prev_end = parts[k - 1][1]
            cut = offset + ((prev_end if prev_end is not None else offset) - offset) / 2
            votes: Counter = Counter()
            for a in previous:
                for b in shifted:
                    if a.speaker and b.speaker and _overlaps(a, b) and (a.start or 0) >= offset - 1:
                        votes[(b.speaker, a.speaker)] += 1
            rename: dict[str, str] = {}
            for (mine, theirs), _n in votes.most_common():
                if mine not in rename and theirs not in rename.values():
                    rename[mine] = theirs
            taken = set(rename.values())
            for s in shifted:
                if s.speaker and s.speaker not in rename and s.speaker in taken:
                    rename[s.speaker] = next(x for x in _speaker_names() if x not in taken and x not in rename.values())
            for s in shifted:
                s.speaker = rename.get(s.speaker, s.speaker)
            merged = [s for s in merged if (s.start or 0) < cut]
            shifted = [s for s in shifted if (s.start or 0) >= cut]
        merged.extend(shifted)
        previous = shifted
    return merged


def _add(value: float | None, offset: float) -> float | None:
    return None if value is None else round(value + offset, 3)


def _overlaps(a: Segment, b: Segment) -> bool:
    return (a.start or 0) < (b.end or 0) and (b.start or 0) < (a.end or 0)


def _speaker_names():
    n = 1
    while True:
        yield f"Спикер {n}"
        n += 1


# ---------------------------------------------------------------- SpeechKit


class OperationLedger:
    """Which recognition operation each piece of audio started (SQLite next to the other state): written before the
    request is sent and when its id is known, so a run after a crash or a lost answer fetches the result it already
    paid for. SpeechKit honours no idempotency key and cannot list its operations, so this is the only record."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with self._db() as db:
            db.execute(
                "create table if not exists operations (key text primary key, operation_id text, request_id text,"
                " at real not null)"
            )
            db.execute("delete from operations where at < ?", [time.time() - RESULTS_KEPT_SECONDS])

    @contextlib.contextmanager
    def _db(self):
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def get(self, key: str) -> tuple[str | None, str | None]:
        """(operation id, request id of a request sent whose answer never came)."""
        with self._db() as db:
            row = db.execute(
                "select operation_id, request_id from operations where key = ? and at >= ?",
                [key, time.time() - RESULTS_KEPT_SECONDS],
            ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def sending(self, key: str, request_id: str) -> None:
        with self._db() as db:
            db.execute(
                "insert or replace into operations (key, operation_id, request_id, at) values (?, null, ?, ?)",
                [key, request_id, time.time()],
            )

    def started(self, key: str, operation_id: str) -> None:
        with self._db() as db:
            db.execute("update operations set operation_id = ?, at = ? where key = ?", [operation_id, time.time(), key])

    def forget(self, key: str) -> None:
        with self._db() as db:
            db.execute("delete from operations where key = ?", [key])


class RecognitionNotFound(ExternalServiceError):
    """The operation is unknown to SpeechKit (expired after 3 days, or another account's)."""


class RecognitionFailed(TranscriptionError):
    """The operation ended in an error, or its result stream did: that result is lost, a new operation is needed."""


class SpeechKitStt(HttpClient):
    """Yandex SpeechKit STT v3 asynchronous file recognition over REST; long recordings in parts."""

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
        max_inline_bytes: int = INLINE_LIMIT_BYTES,
        max_audio_seconds: float = MAX_AUDIO_SECONDS,
        part_overlap_seconds: float = 10.0,
        ledger_path: Path | None = None,
        upload_timeout: float = 900.0,
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
        self.max_inline_bytes = max_inline_bytes
        self.max_audio_seconds = max_audio_seconds
        self.part_overlap_seconds = part_overlap_seconds
        self.ledger = OperationLedger(ledger_path) if ledger_path else None
        self.read_timeout = kwargs.get("timeout", 60.0)
        self.upload_timeout = upload_timeout

    def close(self) -> None:
        super().close()
        self._operations.close()

    def submit(self, audio: bytes, *, request_id: str | None = None) -> str:
        settings = {
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
        import httpx

        # the body built as bytes around the base64 once: json= would hold the audio three more times (str, dump,
        # encoded), 80 MB each for a full part
        body = b"".join([b'{"content": "', base64.b64encode(audio), b'", ', json.dumps(settings)[1:].encode()])
        # up to 60 MB of audio (80 MB as base64) may take minutes to upload on a VPS uplink; x-client-request-id
        # lets Yandex support find the request (docs: speechkit/concepts/support-headers), it does not deduplicate
        response = self.request(
            "POST",
            "/stt/v3/recognizeFileAsync",
            content=body,
            headers={"Content-Type": "application/json", "x-client-request-id": request_id or str(uuid.uuid4())},
            timeout=httpx.Timeout(self.read_timeout, write=self.upload_timeout),
            idempotent=False,  # each accepted request is a billed operation
        )
        return response.json()["id"]

    def wait(self, operation_id: str) -> None:
        deadline = time.monotonic() + self.timeout_seconds
        interval = self.poll_interval
        while True:
            try:
                op = self._operations.request("GET", f"/operations/{operation_id}").json()
            except ExternalServiceError as exc:
                if exc.status == 404:
                    raise RecognitionNotFound(self.service, str(exc), status=404) from None
                raise
            if op.get("done"):
                if op.get("error"):
                    err = op["error"]
                    raise RecognitionFailed(
                        f"{self.service}: распознавание {operation_id} завершилось ошибкой {err.get('code')}: "
                        f"{err.get('message')}"
                    )
                return
            if time.monotonic() + interval > deadline:
                raise ExternalServiceError(
                    self.service, f"распознавание {operation_id} не закончилось за {self.timeout_seconds:.0f} с"
                )
            time.sleep(interval)
            interval = min(self.max_poll_interval, interval * 1.5)

    def fetch(self, operation_id: str) -> list[Segment]:
        try:
            response = self.request("GET", "/stt/v3/getRecognition", params={"operation_id": operation_id})
        except ExternalServiceError as exc:
            if exc.status == 404:
                raise RecognitionNotFound(self.service, str(exc), status=404) from None
            raise
        return parse_recognition_stream(response.text)

    def _result(self, operation_id: str, key: str) -> list[Segment]:
        try:
            self.wait(operation_id)
            return self.fetch(operation_id)
        except RecognitionFailed:
            if self.ledger:  # a broken line may be the network's (fetched again next time); an error line is not
                self.ledger.forget(key)
            raise

    def recognize(self, audio: bytes, key: str, what: str) -> list[Segment]:
        """One piece of audio: the operation the ledger remembers for `key`, else a new one (recorded at once)."""
        operation_id, lost_request = self.ledger.get(key) if self.ledger else (None, None)
        if operation_id:
            try:
                return self._result(operation_id, key)
            except RecognitionNotFound:
                log.warning("%s: операция %s не найдена в SpeechKit, распознаю заново", what, operation_id)
        if lost_request:
            log.warning(
                "%s: ответ на прошлую отправку (x-client-request-id %s) не пришёл — SpeechKit мог её принять и "
                "выставить счёт; отправляю снова",
                what,
                lost_request,
            )
        request_id = str(uuid.uuid4())
        if self.ledger:
            self.ledger.sending(key, request_id)
        try:
            operation_id = self.submit(audio, request_id=request_id)
        except ExternalServiceError as exc:
            if exc.outcome_unknown:
                raise TranscriptionError(
                    f"{what}: SpeechKit не ответил на отправку ({exc}); запрос мог быть принят и оплачен, поэтому "
                    f"в этом запуске он не повторяется (x-client-request-id {request_id}). Перезапустите запись позже",
                    retry_next_run=True,
                ) from None
            if self.ledger:
                self.ledger.forget(key)
            if exc.status == 400:  # the limits page names the limits, not the refusal: say which settings cut parts
                raise TranscriptionError(
                    f"{what}: {exc}. Если SpeechKit отказал из-за размера или длительности звука, уменьшите "
                    "C360_SPEECHKIT_MAX_INLINE_MB или C360_SPEECHKIT_MAX_AUDIO_SECONDS: запись пойдёт частями"
                ) from None
            raise
        if self.ledger:
            self.ledger.started(key, operation_id)
        return self._result(operation_id, key)

    @staticmethod
    def _opus(media_path: Path, scratch: Path) -> tuple[Path, float]:
        """The recording itself when it is already mono OggOpus (nothing to convert), else its audio converted."""
        import av

        with contextlib.suppress(av.FFmpegError, OSError, IndexError):
            with av.open(str(media_path)) as source:
                stream = source.streams.audio[0]
                if source.format.name == "ogg" and _is_mono_opus(stream) and source.duration:
                    return media_path, source.duration / 1_000_000
        return scratch, write_opus(media_path, str(scratch))

    def transcribe(self, media_path: Path) -> Transcript:
        stat = media_path.stat() if media_path.exists() else None
        identity = f"{media_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}" if stat else str(media_path)
        with tempfile.TemporaryDirectory(prefix="c360-stt-") as tmp:
            opus, duration = self._opus(media_path, Path(tmp) / "audio.ogg")
            spans = plan_parts(
                duration,
                _base64_size(opus.stat().st_size),
                max_bytes=self.max_inline_bytes,
                max_seconds=self.max_audio_seconds,
                overlap=self.part_overlap_seconds,
            )
            if len(spans) == 1:
                parts = [Part(0, 0.0, duration, opus)]
            else:
                parts = cut_parts(opus, spans, Path(tmp))
                log.info("%s: %.0f мин звука, %d частей", media_path, duration / 60, len(parts))
            results = []
            for part in parts:
                audio = part.path.read_bytes()
                if _base64_size(len(audio)) > self.max_inline_bytes:
                    raise TranscriptionError(
                        f"{media_path}: часть {part.index + 1} — {_base64_size(len(audio)) / 2**20:.0f} МБ в запросе, "
                        f"больше лимита {self.max_inline_bytes / 2**20:.0f} МБ (C360_SPEECHKIT_MAX_INLINE_MB)"
                    )
                what = f"{media_path}" + (f", часть {part.index + 1} из {len(parts)}" if len(parts) > 1 else "")
                key = f"{identity}:{self.model}:{spans[part.index][0]:.3f}-{spans[part.index][1]:.3f}"
                try:
                    segments = self.recognize(audio, key, what)
                except ExternalServiceError as exc:  # nothing started, or the ledger keeps the started operation
                    raise TranscriptionError(f"{what}: {exc}", retry_next_run=True) from exc
                except TranscriptionError as exc:
                    if str(exc).startswith(what):
                        raise
                    raise TranscriptionError(f"{what}: {exc}", retry_next_run=exc.retry_next_run) from exc
                results.append((part.offset, part.offset + part.duration, segments))
        segments = merge_parts(results) if len(results) > 1 else results[0][2]
        if not segments:
            raise TranscriptionError(f"{media_path}: SpeechKit не распознал речь (пустой результат)")
        return Transcript(provider=self.name, segments=segments)


def _stream_error(error) -> str:
    """An error object inside the result stream: google.rpc.Status {code, message} or the REST gateway's
    {grpcCode, httpCode, message, httpStatus}."""
    if not isinstance(error, dict):
        return str(error)[:300]
    code = error.get("code", error.get("grpcCode", error.get("httpCode", "?")))
    return f"{code}: {error.get('message') or error.get('httpStatus') or 'без описания'}"


def parse_recognition_stream(body: str) -> list[Segment]:
    """Parse getRecognition's newline-delimited JSON; normalized text (finalRefinement) wins over raw final. A line
    that is not a JSON object, or one carrying `error`, fails the whole result: a partial transcript is not one."""
    finals: dict[tuple[str, str], Segment] = {}
    order: list[tuple[str, str]] = []
    for number, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            raise TranscriptionError(  # the ledger keeps the operation: the result is fetched again, not paid again
                f"ответ SpeechKit повреждён: строка {number} результата — не JSON ({line.strip()[:80]!r})",
                retry_next_run=True,
            ) from None
        if not isinstance(message, dict):
            raise TranscriptionError(
                f"ответ SpeechKit повреждён: строка {number} результата — не объект JSON", retry_next_run=True
            )
        if "error" in message:
            raise RecognitionFailed(
                f"SpeechKit прервал выдачу результата ошибкой {_stream_error(message['error'])} (строка {number})"
            )
        event = message.get("result", {})
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
