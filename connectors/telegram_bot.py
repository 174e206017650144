"""Telegram Bot API client: sendMessage in HTML parse mode, split under the length limit, into a forum topic, paced
per group, following a group's upgrade to a supergroup, never resent when the first attempt may have arrived.

Sources: https://core.telegram.org/bots/api#sendmessage (`message_thread_id`), #responseparameters
(`migrate_to_chat_id`, `retry_after`); the Bots FAQ (core.telegram.org/bots/faq, «My bot is hitting limits»: no more
than 20 messages per minute to the same group, ~30 messages/s overall); tdlib/telegram-bot-api Client.cpp (400 "Bad
Request: group chat was upgraded to a supergroup chat" with parameters.migrate_to_chat_id; 400 "Bad Request: message
thread not found"; 429 "Too Many Requests: retry after N" with parameters.retry_after and a
Retry-After header; a send that failed is answered ok=false and the half-made message deleted)."""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ChatTarget:
    """Where messages go: a chat, the forum topic in it (None: the chat itself), the setting naming the chat."""

    chat_id: str
    thread_id: int | None = None
    setting: str = ""


class TelegramApiError(ExternalServiceError):
    """An `ok: false` answer: the Bot API's description and parameters (migrate_to_chat_id, retry_after)."""

    def __init__(self, message: str, *, description: str, parameters: dict, **kwargs):
        super().__init__(TelegramBot.service, message, **kwargs)
        self.description = description
        self.parameters = parameters


class GroupPacer:
    """At most `limit` messages per `window` seconds to one group: the Bots FAQ's «20 messages per minute to the
    same group». One per process (`PACER`), shared by every client in it; each part of a long report counts.
    A sliding window: a message waits until the oldest of the last `limit` is `window` seconds old. A message's
    time is when its answer came (the server counts it on arrival, after we started), so `slot()` wraps the call."""

    def __init__(self):
        self._sent: dict[tuple[str, str], list[list[float]]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, key: tuple[str, str], limit: int, window: float) -> Iterator[None]:
        while True:
            with self._lock:
                now = time.monotonic()
                sent = self._sent[key] = [t for t in self._sent.get(key, []) if t[0] > now - window]
                if len(sent) < limit:
                    mine = [now]
                    sent.append(mine)
                    break
                delay = min(t[0] for t in sent) + window - now
            time.sleep(delay)
        try:
            yield
        finally:
            mine[0] = time.monotonic()


PACER = GroupPacer()
GROUP_LIMIT, GROUP_WINDOW = 20, 60.0  # Bots FAQ; python-telegram-bot AIORateLimiter's defaults are the same


def _is_group(chat_id: str) -> bool:
    # groups and supergroups have negative ids (a @username names a channel or supergroup): python-telegram-bot's
    # AIORateLimiter tells groups the same way
    return chat_id.startswith(("-", "@"))


class TelegramBot(HttpClient):
    service = "Telegram Bot API"

    def __init__(
        self,
        token: str,
        base_url: str = "https://api.telegram.org",
        *,
        group_limit: int = GROUP_LIMIT,
        group_window: float = GROUP_WINDOW,
        **kwargs,
    ):
        if not token:
            raise ExternalServiceError(self.service, "не задан TELEGRAM_BOT_TOKEN")
        kwargs.setdefault("min_interval", 1.0)  # Telegram: about one message per second per chat
        super().__init__(f"{base_url.rstrip('/')}/bot{token}/", **kwargs)
        # the limit is the server's, per bot: a window per (server, bot id, chat); the bot id is public, not the token
        self._pace_scope = f"{base_url.rstrip('/')}/{token.split(':', 1)[0]}"
        self.group_limit, self.group_window = group_limit, group_window
        # groups upgraded to supergroups (old chat id → new): filled by the senders from what they remember and by
        # every answer carrying migrate_to_chat_id; a send to an old id goes to the new one directly
        self.migrations: dict[str, str] = {}

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

    def error_for(self, response: httpx.Response, *, retryable: bool, outcome_unknown: bool) -> ExternalServiceError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "description" not in body:  # not the Bot API's answer (a proxy's page)
            return super().error_for(response, retryable=retryable, outcome_unknown=outcome_unknown)
        return TelegramApiError(
            self.error_message(response),
            description=str(body.get("description", "")),
            parameters=body.get("parameters") or {},
            status=response.status_code,
            retryable=retryable,
            outcome_unknown=outcome_unknown,
        )

    def call(self, method: str, payload: dict, *, idempotent: bool = True) -> dict:
        body = self.request("POST", method, json=payload, idempotent=idempotent).json()
        if not body.get("ok"):
            raise ExternalServiceError(self.service, f"{method}: {body.get('description', body)}")
        return body["result"]

    def send_message(
        self, chat_id: str | int, text: str, *, parse_mode: str | None = "HTML", thread_id: int | None = None
    ) -> int:
        """Send one message; its id. Retried only while it certainly was not sent (no connection, 429 after its
        retry_after); a lost answer raises with `outcome_unknown` — resending could show it twice, and the Bot API
        has no way to look a sent message up. A group upgraded to a supergroup: sent to the new id (remembered in
        `migrations`)."""
        chat = str(chat_id)
        payload: dict = {"text": text, "link_preview_options": {"is_disabled": True}}
        if parse_mode:
            payload["parse_mode"] = parse_mode
        if thread_id is not None:
            payload["message_thread_id"] = int(thread_id)
        target = self.migrations.get(chat, chat)
        try:
            return self._send(target, payload)
        except TelegramApiError as exc:
            new = exc.parameters.get("migrate_to_chat_id")
            if not new:
                raise
            # the old group refused before sending: nothing arrived there, the same message goes to the new chat
            self.migrations[chat] = str(new)
            return self._send(str(new), payload)

    def _send(self, chat_id: str, payload: dict) -> int:
        pace = PACER.slot((self._pace_scope, chat_id), self.group_limit, self.group_window)
        try:
            with pace if _is_group(chat_id) else nullcontext():
                return int(self.call("sendMessage", {"chat_id": chat_id, **payload}, idempotent=False)["message_id"])
        except TelegramApiError as exc:
            if "message thread not found" in exc.description.lower():
                raise ExternalServiceError(
                    self.service,
                    f"тема форума message_thread_id={payload.get('message_thread_id')} не найдена в чате {chat_id} "
                    "(message thread not found): проверьте номер темы в C360_REPORT_THREAD_ID / C360_ALERT_THREAD_ID",
                    status=exc.status,
                ) from None
            raise
