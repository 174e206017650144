"""Telegram Desktop "Export chat history" JSON (result.json): single-chat and full-account exports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from config.clock import local_to_utc

_GROUP_TYPES = {"private_group"}
_CHANNEL_TYPES = {"private_supergroup", "public_supergroup", "private_channel", "public_channel"}
_NOT_INCLUDED = "(File not included"
_EXCEEDS = "(File exceeds"


class ExportError(ValueError):
    """The file is not a usable Telegram Desktop export; the message names the file and what is wrong."""


@dataclass
class ParsedExport:
    chats: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    unparsed: list[dict] = field(default_factory=list)  # no id/date: kept raw, outside the keyed table
    self_id: int | None = None

    def count(self, kind: str) -> int:
        return sum(1 for m in self.messages if m["kind"] == kind)


def marked_chat_id(bare_id: int, chat_type: str) -> int:
    """The export's bare peer id → Telethon's marked id (so exports and pulls share one key)."""
    if chat_type in _CHANNEL_TYPES:
        return int(f"-100{bare_id}")
    if chat_type in _GROUP_TYPES:
        return -bare_id
    return bare_id


def marked_peer_id(value: str | None) -> int | None:
    """`user123` → 123, `chat123` → -123, `channel123` → -100123."""
    if not isinstance(value, str):
        return None
    for prefix, mark in (("user", lambda n: n), ("channel", lambda n: int(f"-100{n}")), ("chat", lambda n: -n)):
        if value.startswith(prefix) and value[len(prefix) :].isdigit():
            return mark(int(value[len(prefix) :]))
    return None


def flatten_text(text) -> str:
    """`text` is a string, or a list mixing strings and entity objects with a `text` key."""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in text if isinstance(p, (str, dict)))
    return ""


def _utc(unix: str | int | None, local: str | None, tz: ZoneInfo) -> datetime | None:
    if unix not in (None, ""):
        return datetime.fromtimestamp(int(unix), UTC).replace(tzinfo=None)
    if local:  # old exports: local time of the exporting PC, no offset
        return local_to_utc(datetime.fromisoformat(local), tz)
    return None


def _media(m: dict) -> tuple[str | None, str | None, int | None]:
    kind = m.get("media_type")
    path = None
    if "photo" in m:
        kind, path = kind or "photo", m["photo"]
    elif "file" in m:
        kind, path = kind or "document", m.get("file_name") or m["file"]
    else:
        for key in (
            "poll",
            "location_information",
            "contact_information",
            "todo_list",
            "game_title",
            "invoice_information",
        ):
            if key in m:
                kind = key.removesuffix("_information")
    if isinstance(path, str) and (path.startswith(_NOT_INCLUDED) or path.startswith(_EXCEEDS)):
        path = m.get("file_name")
    name = Path(path).name if isinstance(path, str) and path else None
    size = m.get("file_size") or m.get("photo_file_size")
    return kind, name, int(size) if isinstance(size, int | str) and str(size).isdigit() else None


def normalize_export_message(m: dict, chat_id: int, *, staff_ids: set[int], tz: ZoneInfo) -> dict | None:
    """One export message → a row of raw.telegram_messages; None when it has no id or date to key it by."""
    if not isinstance(m, dict) or not isinstance(m.get("id"), int):
        return None
    sent_at = _utc(m.get("date_unixtime"), m.get("date"), tz)
    if sent_at is None:
        return None
    kind = m.get("type")
    sender_id = marked_peer_id(m.get("from_id") if kind == "message" else m.get("actor_id"))
    media_kind, media_name, media_size = _media(m)
    forwarded = m.get("forwarded_from") or m.get("saved_from")
    row = {
        "chat_id": chat_id,
        "message_id": m["id"],
        "sent_at": sent_at,
        "edited_at": _utc(m.get("edited_unixtime"), m.get("edited"), tz)
        if ("edited" in m or "edited_unixtime" in m)
        else None,
        "sender_id": sender_id,
        "sender_name": m.get("from") if kind == "message" else m.get("actor"),
        "direction": "unknown" if sender_id is None else ("staff" if sender_id in staff_ids else "client"),
        "kind": kind if kind in ("message", "service") else "unknown",
        "text": flatten_text(m.get("text")) or None,
        "reply_to_id": m.get("reply_to_message_id") if isinstance(m.get("reply_to_message_id"), int) else None,
        "forwarded_from": str(forwarded) if forwarded else None,
        "media_kind": media_kind,
        "media_name": media_name,
        "media_size": media_size,
        "service_action": m.get("action") if kind == "service" else None,
        "raw": None if kind == "message" else json.dumps(m, ensure_ascii=False),
        "source": "export",
    }
    return row


def parse_export(
    path: Path, *, staff_ids: set[int] | None = None, tz: ZoneInfo = ZoneInfo("Europe/Moscow")
) -> ParsedExport:
    """Read and validate the whole file first (nothing is written from a broken export)."""
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise ExportError(
            f"{path}: файл обрезан или это не JSON ({exc.msg}, строка {exc.lineno}, позиция {exc.colno})"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: файл не читается ({exc})") from exc
    if not isinstance(data, dict):
        raise ExportError(f"{path}: это не экспорт Telegram Desktop (в корне не объект)")
    if isinstance(data.get("messages"), list):
        chats = [data]
        self_id = None
    elif isinstance(data.get("chats"), dict) and isinstance(data["chats"].get("list"), list):
        chats = list(data["chats"]["list"])
        left = data.get("left_chats")
        if isinstance(left, dict) and isinstance(left.get("list"), list):
            chats += left["list"]
        info = data.get("personal_information")
        self_id = info.get("user_id") if isinstance(info, dict) and isinstance(info.get("user_id"), int) else None
    else:
        raise ExportError(
            f"{path}: это не экспорт Telegram Desktop: нет ни списка 'messages' (экспорт одного чата), "
            "ни 'chats.list' (экспорт всего аккаунта)"
        )
    staff = set(staff_ids or ()) | ({self_id} if self_id else set())
    result = ParsedExport(self_id=self_id)
    for index, chat in enumerate(chats):
        if (
            not isinstance(chat, dict)
            or not isinstance(chat.get("id"), int)
            or not isinstance(chat.get("messages"), list)
        ):
            raise ExportError(f"{path}: чат №{index + 1} без 'id' или без списка 'messages'")
        chat_type = str(chat.get("type", ""))
        chat_id = marked_chat_id(chat["id"], chat_type)
        result.chats.append({"chat_id": chat_id, "title": chat.get("name"), "chat_type": chat_type})
        for position, m in enumerate(chat["messages"]):
            row = normalize_export_message(m, chat_id, staff_ids=staff, tz=tz)
            if row is None:
                result.unparsed.append(
                    {"chat_id": chat_id, "position": position, "raw": json.dumps(m, ensure_ascii=False)}
                )
            else:
                result.messages.append(row)
    return result
