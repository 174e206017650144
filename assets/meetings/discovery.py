"""Finding recordings in the Jibri folder (and plain dropped files) and reading the lead ID from the room name."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlparse
from zoneinfo import ZoneInfo

from assets.files import is_settled, is_valid_name, readable_name
from warehouse.aliases import is_lead_id, not_a_lead

MEDIA_EXTENSIONS = frozenset(
    {".mp4", ".webm", ".mkv", ".mov", ".m4a", ".mp3", ".ogg", ".opus", ".oga", ".wav", ".flac", ".aac"}
)
JIBRI_METADATA = "metadata.json"
_JIBRI_STAMP = re.compile(r"^(?P<room>.+)_(?P<stamp>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})$")
_LEAD_KEYS = ("lead_id", "leadId", "client_id", "bitrix_lead_id")


@dataclass(frozen=True)
class Recording:
    recording_id: str
    kind: str  # "jibri" (session folder with metadata.json) | "file" (plain dropped file)
    media_path: Path
    rel_path: str
    room: str
    client_id: str
    started_at: datetime  # naive, in the configured timezone
    size: int
    mtime: float
    session_dir: Path | None = None
    meeting_url: str | None = None
    participants: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def run_key(self) -> str:
        return f"recording:{self.rel_path}:{self.size}:{int(self.mtime)}"


@dataclass(frozen=True)
class Unmatched:
    path: Path
    rel_path: str
    room: str | None
    reason: str
    size: int


@dataclass
class ScanResult:
    ready: list[Recording] = field(default_factory=list)
    pending: dict[str, list[float]] = field(default_factory=dict)  # rel_path -> [size, mtime], for the next tick
    unmatched: list[Unmatched] = field(default_factory=list)


def room_lead(room: str, prefix: str) -> tuple[str | None, str]:
    """(lead, "") for `client-12345`, `client_12345_anything`, `Client12345` (prefix configurable); (None, why) for a
    room that names no lead or digits that break the lead-ID rule (`client-99999999999999999999` is no client)."""
    m = re.match(rf"^{re.escape(prefix)}[-_.]?(\d+)(?:[-_.].*)?$", room.strip(), re.IGNORECASE)
    if not m:
        return None, f"в имени комнаты «{room}» нет ID лида (ожидается {prefix}-12345…)"
    if not is_lead_id(m.group(1)):
        return None, f"в имени комнаты {not_a_lead(m.group(1))}"
    return m.group(1), ""


def lead_id_from_room(room: str, prefix: str) -> str | None:
    return room_lead(room, prefix)[0]


def room_from_url(url: str) -> str | None:
    path = urlparse(url).path.rstrip("/")
    return unquote(path.rsplit("/", 1)[-1]) if path else None


def split_jibri_name(stem: str) -> tuple[str, datetime | None]:
    """`<room>_<yyyy-MM-dd-HH-mm-ss>` → (room, local start time); other names → (stem, None)."""
    m = _JIBRI_STAMP.match(stem)
    if not m:
        return stem, None
    return m.group("room"), datetime.strptime(m.group("stamp"), "%Y-%m-%d-%H-%M-%S")


def recording_id(started_at: datetime, client_id: str, rel_path: str) -> str:
    digest = hashlib.sha1(rel_path.encode("utf-8")).hexdigest()[:8]
    return f"{started_at:%Y%m%d-%H%M%S}-{client_id}-{digest}"


def _is_media(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in MEDIA_EXTENSIONS and not path.name.startswith(".")


def _local(ts: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, tz).replace(tzinfo=None)


def _read_metadata(path: Path) -> tuple[dict, str | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            return {}, "metadata.json не объект JSON"
        return data, None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, f"metadata.json не читается: {exc}"


def _participant_name(p) -> str | None:
    if isinstance(p, str):
        return p
    if isinstance(p, dict):
        user = p.get("user") if isinstance(p.get("user"), dict) else p
        return user.get("name") or user.get("id")
    return None


class RecordingsFolder:
    def __init__(
        self,
        root: Path,
        *,
        prefix: str,
        tz: ZoneInfo,
        quiet_seconds: float = 300,
        aliases: Mapping[str, str] | None = None,
    ):
        self.root = root
        self.prefix = prefix
        self.tz = tz
        self.quiet_seconds = quiet_seconds
        self.aliases = aliases or {}  # mapped by hand: recording path, session folder or room → lead

    def _build(self, media: Path, *, kind: str, session_dir: Path | None, metadata: dict, meta_error: str | None):
        stat = media.stat()
        rel = media.relative_to(self.root).as_posix()
        room, started = split_jibri_name(media.stem)
        meeting_url = metadata.get("meeting_url") if isinstance(metadata.get("meeting_url"), str) else None
        url_room = room_from_url(meeting_url) if meeting_url else None
        given = [str(metadata[k]).strip() for k in _LEAD_KEYS if str(metadata.get(k) or "").strip()]
        lead = next((v for v in given if is_lead_id(v)), None)
        file_room, room = room, url_room or room  # the meeting's URL names the room best; the file name is a fallback
        from_room, why = room_lead(room, self.prefix)
        lead = lead or from_room or lead_id_from_room(file_room, self.prefix)
        if not lead and self.aliases:
            keys = (rel, str(media), session_dir.name if session_dir else None, room)
            lead = next((self.aliases[k] for k in keys if k in self.aliases), None)
        if not lead:
            if given:
                why = f"в metadata.json {not_a_lead(given[0])}; {why}"
            return Unmatched(media, rel, room, why, stat.st_size)
        started = started or _local(stat.st_mtime, self.tz)
        participants = (
            tuple(n for n in (_participant_name(p) for p in metadata.get("participants") or []) if n)
            if isinstance(metadata.get("participants"), list)
            else ()
        )
        extra = {k: v for k, v in metadata.items() if k not in ("meeting_url", "participants")}
        if meta_error:
            extra["metadata_error"] = meta_error
        return Recording(
            recording_id=recording_id(started, lead, rel),
            kind=kind,
            media_path=media,
            rel_path=rel,
            room=room,
            client_id=lead,
            started_at=started,
            size=stat.st_size,
            mtime=stat.st_mtime,
            session_dir=session_dir,
            meeting_url=meeting_url,
            participants=participants,
            extra=extra,
        )

    def _add(self, result: ScanResult, item) -> None:
        (result.ready if isinstance(item, Recording) else result.unmatched).append(item)

    def _bad(self, result: ScanResult, path: Path, reason: str) -> None:
        """A file or folder that cannot be taken is listed with its reason; the scan goes on."""
        rel = readable_name(path.relative_to(self.root).as_posix())
        result.unmatched.append(Unmatched(path, rel, None, reason, 0))

    def _guarded(self, result: ScanResult, path: Path, take) -> None:
        """Run `take(path)` unless the name is not text; any OS error (vanished, no permission, NFS hiccup) lists
        the path with the reason instead of stopping the scan."""
        if not is_valid_name(path.relative_to(self.root).as_posix()):
            self._bad(result, path, "имя не в кодировке UTF-8: переименуйте файл или папку")
            return
        try:
            take(path)
        except FileNotFoundError:
            pass  # removed between listing and reading: nothing to take, nothing to report
        except OSError as exc:
            self._bad(result, path, f"не читается: {exc.strerror or exc}")

    def _scan_session(self, entry: Path, result: ScanResult, *, take_all: bool) -> None:
        meta_path = entry / JIBRI_METADATA
        if not meta_path.exists() and not take_all:
            return  # Jibri is still recording: metadata.json is written when it stops
        media: list[tuple[int, Path]] = []

        def take_media(p: Path) -> None:
            if _is_media(p):
                media.append((p.stat().st_size, p))

        for p in sorted(entry.iterdir()):
            self._guarded(result, p, take_media)
        if not media:
            if meta_path.exists():
                self._bad(result, meta_path, "в папке сессии Jibri нет файла записи")
            return
        metadata, error = _read_metadata(meta_path) if meta_path.exists() else ({}, None)

        def take_recording(m: Path) -> None:
            self._add(result, self._build(m, kind="jibri", session_dir=entry, metadata=metadata, meta_error=error))

        for _, m in sorted(media, key=lambda x: x[0], reverse=True):  # the largest file first
            self._guarded(result, m, take_recording)

    def _scan_file(self, entry: Path, previous: dict, result: ScanResult, *, now: float, take_all: bool) -> None:
        stat = entry.stat()
        rel = entry.relative_to(self.root).as_posix()
        if take_all or is_settled(previous, rel, stat, now, self.quiet_seconds):
            self._add(result, self._build(entry, kind="file", session_dir=None, metadata={}, meta_error=None))
        else:
            result.pending[rel] = [stat.st_size, stat.st_mtime]

    def scan(self, previous: dict[str, list[float]] | None = None, *, now: float, take_all: bool = False) -> ScanResult:
        """Jibri sessions count once metadata.json exists; plain files once unchanged since the previous tick
        (or untouched for `quiet_seconds`). `take_all` treats every file as complete (for lookups by ID).
        One bad entry (undecodable name, no permission, vanished) is listed in `unmatched` and never stops the rest."""
        previous = previous or {}
        result = ScanResult()
        if not self.root.is_dir():
            return result

        def take(entry: Path) -> None:
            if entry.is_dir():
                self._scan_session(entry, result, take_all=take_all)
            elif _is_media(entry):
                self._scan_file(entry, previous, result, now=now, take_all=take_all)

        for entry in sorted(self.root.iterdir()):
            if not entry.name.startswith("."):
                self._guarded(result, entry, take)
        return result

    def find(self, rec_id: str, *, now: float) -> Recording | None:
        return next((r for r in self.scan(now=now, take_all=True).ready if r.recording_id == rec_id), None)
