"""Telegram Bot API client: sendMessage in HTML parse mode, split under the length limit, 429-aware."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from connectors.http import ExternalServiceError, HttpClient

if TYPE_CHECKING:
    import httpx

MAX_MESSAGE_UNITS = 4096
_TOKEN_RE = re.compile(r"(<[^>]+>)|(&#?\w+;)|([^<&]+|[<&])")
_TAG_RE = re.compile(r"<[^>]+>")


def escape(text: object) -> str:
    """Escape user text for parse_mode=HTML (only &, <, > need it outside attributes)."""
    return html.escape(str(text), quote=False)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _tag_name(tag: str) -> str:
    return re.match(r"</?\s*([a-zA-Z0-9-]+)", tag).group(1).lower()


def _split_long_line(line: str, limit: int) -> list[str]:
    """Cut one over-long HTML line into pieces, never inside a tag or entity; open tags are closed and reopened."""
    pieces: list[str] = []
    open_tags: list[str] = []  # full opening tags, outermost first
    current = ""

    def closing() -> str:
        return "".join(f"</{_tag_name(t)}>" for t in reversed(open_tags))

    def flush() -> None:
        nonlocal current
        pieces.append(current + closing())
        current = "".join(open_tags)

    for tag, entity, text in _TOKEN_RE.findall(line):
        if tag:
            if tag.startswith("</"):  # its length is already reserved by closing()
                current += tag
                name = _tag_name(tag)
                for i in range(len(open_tags) - 1, -1, -1):
                    if _tag_name(open_tags[i]) == name:
                        del open_tags[i]
                        break
            else:
                if utf16_len(current + tag + f"</{_tag_name(tag)}>" + closing()) > limit:
                    flush()
                current += tag
                open_tags.append(tag)
            continue
        token = entity or text
        while token:
            room = limit - utf16_len(current + closing())
            if utf16_len(token) <= room:
                current += token
                break
            if entity or room <= 0:
                if current.strip() == "".join(open_tags).strip():
                    raise ValueError("HTML line cannot be split under the limit")
                flush()
                continue
            cut = token[:room]
            space = cut.rfind(" ")
            cut = cut[: space + 1] if space > room // 2 else cut
            while utf16_len(cut) > room:
                cut = cut[:-1]
            current += cut
            token = token[len(cut) :]
            flush()
    pieces.append(current + closing())
    return [p for p in pieces if _TAG_RE.sub("", p).strip()]


def split_html(text: str, limit: int = MAX_MESSAGE_UNITS) -> list[str]:
    """Split an HTML message into parts of at most `limit` UTF-16 units, on line boundaries where possible.

    Raw markup length is counted (it is never below the visible length Telegram checks), so parts are safe.
    """
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if utf16_len(candidate) <= limit:
            current = candidate
            continue
        if current.strip():
            parts.append(current.strip("\n"))
        if utf16_len(line) <= limit:
            current = line
        else:
            *full, current = _split_long_line(line, limit)
            parts.extend(full)
    if current.strip():
        parts.append(current.strip("\n"))
    return parts


class TelegramBot(HttpClient):
    service = "Telegram Bot API"

    def __init__(self, token: str, base_url: str = "https://api.telegram.org", **kwargs):
        if not token:
            raise ExternalServiceError(self.service, "не задан TELEGRAM_BOT_TOKEN")
        kwargs.setdefault("min_interval", 1.0)  # Telegram: about one message per second per chat
        super().__init__(f"{base_url.rstrip('/')}/bot{token}/", **kwargs)

    def retry_after(self, response: httpx.Response) -> float | None:
        try:
            return float(response.json()["parameters"]["retry_after"])
        except (ValueError, KeyError, TypeError):
            return super().retry_after(response)

    def error_message(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return super().error_message(response)
        message = f"{body.get('error_code', response.status_code)} {body.get('description', '')}".strip()
        migrate = (body.get("parameters") or {}).get("migrate_to_chat_id")
        if migrate:
            message += f" (группа стала супергруппой, новый chat_id: {migrate})"
        return message

    def call(self, method: str, payload: dict) -> dict:
        body = self.request("POST", method, json=payload).json()
        if not body.get("ok"):
            raise ExternalServiceError(self.service, f"{method}: {body.get('description', body)}")
        return body["result"]

    def send_message(self, chat_id: str | int, text: str, *, parse_mode: str | None = "HTML") -> int:
        payload = {"chat_id": chat_id, "text": text, "link_preview_options": {"is_disabled": True}}
        if parse_mode:
            payload["parse_mode"] = parse_mode
        return int(self.call("sendMessage", payload)["message_id"])
