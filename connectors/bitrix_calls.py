"""Bitrix24 calls: CoPilot transcripts and call recordings, the way an incoming webhook can get them.

- CoPilot (AI call processing) keeps a transcript of the call: `crm.activity.call.getTranscript` with `activityId`
  answers `{"result": {"transcription": "<full text>"}}`, `result: null` when there is none (not ready, failed,
  absent), 400 `NOT_FOUND`, 403 `ACCESS_DENIED` (no rights, or AI call processing is off); older portals do not have
  the method (`ERROR_METHOD_NOT_FOUND`). b24restdocs api-reference/crm/timeline/activities/activity-base/
  crm-activity-call-get-transcript.md.
- `FILES[].url` of crm.activity.list is `/bitrix/tools/crm_show_file.php?fileId=…&auth=` with an empty token
  (b24restdocs crm-activity-list.md, «Retrieving Attachments»): with a webhook it answers the portal's login page,
  so it is never fetched. The file is taken by its id: `disk.file.get` → `DOWNLOAD_URL`, which carries its own auth
  (b24restdocs api-reference/disk/file/disk-file-get.md). The docs do not say whether `FILES[].id` is a Drive id or
  a file-table id: when Drive does not know it, the telephony statistics of the activity give the record
  (`voximplant.statistic.get`, `CRM_ACTIVITY_ID` → `RECORD_FILE_ID`, else `CALL_RECORD_URL`; b24restdocs
  api-reference/telephony/voximplant/voximplant-statistic-get.md).
- A download is a recording only when it is audio (its Content-Type and its first bytes, probed by PyAV); anything
  else (the login page) is «нет доступа к записи», to be tried again.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from connectors.bitrix import AUTH_CODES, BitrixClient
from connectors.http import ExternalServiceError
from connectors.redact import redact
from connectors.stt import Segment

COPILOT = "bitrix_copilot"  # transcript_source of a CoPilot transcript
GET_TRANSCRIPT = "crm.activity.call.getTranscript"
# answers that mean «not allowed» (retried next run, once the owner grants it), not «there is nothing»
NO_ACCESS = AUTH_CODES | {"ACCESS_DENIED"}
# getTranscript answers that mean CoPilot certainly has no transcript (crm-activity-call-get-transcript.md: 403
# ACCESS_DENIED also when AI call processing is off, 400 NOT_FOUND; an older portal has no such method). `null` means
# «none yet» too; anything else (REQUEST_FAILED, OPERATION_TIME_LIMIT not reset in time, 5xx) is transient
COPILOT_NONE = frozenset({"ERROR_METHOD_NOT_FOUND", "ACCESS_DENIED", "NOT_FOUND"})
NOT_AUDIO_TYPES = ("text/", "application/json", "application/xhtml", "application/xml")
# PyAV format names → the file suffix the recording is kept under
SUFFIXES = {"mov": ".m4a", "matroska": ".webm", "mp3": ".mp3", "ogg": ".ogg", "wav": ".wav"}


@dataclass
class Recording:
    content: bytes
    suffix: str


@dataclass
class RecordingProblem:
    reason: str
    no_access: bool  # True: «нет доступа к записи», tried again next run; False: the recording is gone


def key(activity_id: int) -> str:
    return f"a{activity_id}"  # batch keys must not be numbers: PHP turns 0..n keys into a JSON list


def audio_suffix(source: bytes | Path, content_type: str | None = None) -> str | None:
    """The suffix to keep a recording under when `source` is audio PyAV can read, else None (a page, JSON, empty)."""
    import av

    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime.startswith(NOT_AUDIO_TYPES) or not source:
        return None
    try:
        with av.open(str(source) if isinstance(source, Path) else io.BytesIO(source)) as container:
            if not container.streams.audio:
                return None
            name = container.format.name.split(",", 1)[0]
    except (av.FFmpegError, OSError, ValueError):
        return None
    return SUFFIXES.get(name, f".{name}")


_LINE = re.compile(
    r"^\s*(?:\[?(?P<at>\d{1,2}:\d{2}(?::\d{2})?)\]?\s*)?(?:(?P<who>[^\s:][^:\n]{0,38}?):\s+)?(?P<text>.+)$"
)


def _seconds(clock: str | None) -> float | None:
    if not clock:
        return None
    seconds = 0.0
    for part in clock.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def copilot_segments(transcription) -> list[Segment]:
    """CoPilot's transcript → segments. The docs give a string («full text»); lines of `[mm:ss] Speaker: text` are
    read with their speaker and time, and a list of {speaker, text, start, end} objects is read as well."""
    if isinstance(transcription, list):
        segments = []
        for part in transcription:
            if isinstance(part, dict):
                low = {str(k).lower(): v for k, v in part.items()}
                text = str(low.get("text") or "").strip()
                if text:
                    start, end = low.get("start"), low.get("end")
                    segments.append(
                        Segment(
                            float(start) if isinstance(start, int | float) else None,
                            float(end) if isinstance(end, int | float) else None,
                            str(low.get("speaker") or low.get("role") or "") or None,
                            text,
                        )
                    )
            elif str(part).strip():
                segments += copilot_segments(str(part))
        return segments
    segments = []
    for line in str(transcription or "").splitlines():
        m = _LINE.match(line)
        if not m or not m["text"].strip():
            continue
        who = m["who"]
        if who and (len(who.split()) > 4 or re.search(r"[.!?,;]", who)):  # a sentence with a colon, not a speaker
            who, text = None, line.strip()
        else:
            text = m["text"].strip()
        segments.append(Segment(_seconds(m["at"]), None, who.strip() if who else None, text))
    return segments


def _batch(client: BitrixClient, calls: dict[str, tuple[str, dict]]) -> tuple[dict, dict]:
    """(results, errors) keyed like `calls`; a request that failed as a whole fails each of its sub-calls."""
    if not calls:
        return {}, {}
    try:
        results, errors, _ = client.batch(calls)
    except ExternalServiceError as exc:
        code = getattr(exc, "code", None) or ("ACCESS_DENIED" if exc.status in (401, 403) else "REQUEST_FAILED")
        return {}, {k: {"error": code, "error_description": str(exc)} for k in calls}
    return results, errors


def _error(error) -> dict:
    """A batch sub-call's error as {"error", "error_description"} (batch.md shows objects; a bare string is kept)."""
    return error if isinstance(error, dict) else {"error": str(error or "ERROR")}


def _reason(method: str, error) -> str:
    error = _error(error)
    return redact(f"{method}: {error.get('error')} — {error.get('error_description') or ''}".rstrip(" —"))


def copilot_transcripts(client: BitrixClient, activity_ids: list[int]) -> tuple[dict[int, list[Segment]], dict]:
    """CoPilot transcripts of many calls (50 a request): ({activity: segments}, {activity: why none})."""
    calls = {key(a): (GET_TRANSCRIPT, {"activityId": a}) for a in activity_ids}
    results, errors = _batch(client, calls)
    found, missing = {}, {}
    for activity in activity_ids:
        if key(activity) in errors:
            missing[activity] = _error(errors[key(activity)]).get("error") or "ERROR"
            continue
        result = results.get(key(activity))
        segments = copilot_segments(result.get("transcription")) if isinstance(result, dict) else []
        if segments:
            found[activity] = segments
        else:
            missing[activity] = "none"
    return found, missing


def copilot_certainly_none(reason: str, ended_at: datetime | None, now: datetime, wait: timedelta) -> bool:
    """Whether a call CoPilot gave no transcript for goes to SpeechKit: the method refuses for good, or it answered
    null and the call ended longer than `wait` ago (the docs give no time for a transcript to appear)."""
    if reason in COPILOT_NONE:
        return True
    return reason == "none" and (ended_at is None or now - ended_at >= wait)


def _disk_urls(client: BitrixClient, files: dict[int, int], what: str) -> tuple[dict[int, str], dict[int, tuple]]:
    """disk.file.get of each activity's file → ({activity: DOWNLOAD_URL}, {activity: (code, reason)})."""
    results, errors = _batch(client, {key(a): ("disk.file.get", {"id": f}) for a, f in files.items()})
    urls, problems = {}, {}
    for activity, file_id in files.items():
        info = results.get(key(activity))
        if key(activity) not in errors and isinstance(info, dict) and info.get("DOWNLOAD_URL"):
            urls[activity] = info["DOWNLOAD_URL"]
        else:
            error = _error(errors.get(key(activity)) or {"error": "ERROR_NOT_FOUND", "error_description": "нет ссылки"})
            problems[activity] = (error.get("error"), f"{what} {file_id}: " + _reason("disk.file.get", error))
    return urls, problems


def _statistics(client: BitrixClient, activity_ids: list[int]) -> tuple[dict[int, dict], dict[int, tuple]]:
    """The telephony statistics row of each call activity (voximplant.statistic.get by CRM_ACTIVITY_ID)."""
    calls = {key(a): ("voximplant.statistic.get", {"FILTER": {"CRM_ACTIVITY_ID": a}}) for a in activity_ids}
    results, errors = _batch(client, calls)
    rows, problems = {}, {}
    for activity in activity_ids:
        if key(activity) in errors:
            error = _error(errors[key(activity)])
            problems[activity] = (error.get("error"), _reason("voximplant.statistic.get", error))
            continue
        found = [r for r in results.get(key(activity)) or [] if isinstance(r, dict)]
        with_record = [r for r in found if r.get("RECORD_FILE_ID") or r.get("CALL_RECORD_URL")]
        if with_record:
            rows[activity] = with_record[-1]
        else:
            problems[activity] = ("ERROR_NOT_FOUND", "в статистике телефонии у звонка нет записи")
    return rows, problems


def _download(client: BitrixClient, url: str) -> Recording | RecordingProblem:
    try:
        response = client.download(url)
    except ExternalServiceError as exc:
        return RecordingProblem(f"не удалось скачать запись: {exc}", no_access=exc.status in (401, 403))
    content_type = response.headers.get("content-type")
    suffix = audio_suffix(response.content, content_type)
    if suffix is None:
        return RecordingProblem(
            f"нет доступа к записи: портал вернул не звук ({content_type or 'без типа'}, {len(response.content)} байт)"
            " — обычно это страница входа; попробуем снова при следующем запуске",
            no_access=True,
        )
    return Recording(response.content, suffix)


def fetch_recordings(client: BitrixClient, files: dict[int, int | None]) -> dict[int, Recording | RecordingProblem]:
    """The recording of each call activity ({activity: FILES id or None}): by its Drive id, else through the
    telephony statistics; each download checked to be audio."""
    urls, problems = _disk_urls(client, {a: f for a, f in files.items() if f}, "файл дела")
    for activity in files:
        if activity not in urls and activity not in problems:
            problems[activity] = ("ERROR_NOT_FOUND", "у дела нет файла записи")
    rows, stat_problems = _statistics(client, [a for a in files if a not in urls])
    record_files = {
        a: int(r["RECORD_FILE_ID"]) for a, r in rows.items() if str(r.get("RECORD_FILE_ID") or "").isdigit()
    }
    record_urls, record_problems = _disk_urls(client, record_files, "файл записи телефонии")
    for activity, row in rows.items():
        if activity not in record_urls and row.get("CALL_RECORD_URL"):
            record_urls[activity] = row["CALL_RECORD_URL"]
    urls |= record_urls
    out: dict[int, Recording | RecordingProblem] = {}
    for activity in files:
        if activity in urls:
            out[activity] = _download(client, urls[activity])
            continue
        seen = [p for p in (problems.get(activity), stat_problems.get(activity), record_problems.get(activity)) if p]
        out[activity] = RecordingProblem(
            "; ".join(reason for _, reason in seen), no_access=any(code in NO_ACCESS for code, _ in seen)
        )
    return out
