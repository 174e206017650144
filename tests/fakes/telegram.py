"""Fake Telegram Bot API: sendMessage with real validation of HTML and length, 429 with retry_after.

Follows tdlib/telegram-bot-api (telegram-bot-api/Client.cpp, Query.cpp, HttpConnection.cpp) and
core.telegram.org/bots/api: a group upgraded to a supergroup answers 400 "Bad Request: group chat was upgraded to a
supergroup chat" with parameters.migrate_to_chat_id (and sends nothing); a topic that is not in a forum answers 400
"Bad Request: message thread not found"; flood control answers 429 "Too Many Requests: retry after N" with
parameters.retry_after and a Retry-After header — here when more than `group_limit` messages went to one group in
`group_window` seconds (the Bots FAQ: 20 per minute; tests shorten the window). `drop_after` delivers the messages
of those numbers (1-based, in the order delivered) and then cuts the connection before answering, as a network
failure after the send does: a client that resends blindly shows the message twice in `messages`."""

from __future__ import annotations

import html
import itertools
import math
import time
from collections import deque
from html.parser import HTMLParser

from tests.fakes.server import FakeServer, Request

SUPPORTED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
}


class _Checker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag not in SUPPORTED_TAGS:
            self.error = self.error or f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f'Can\'t find end tag corresponding to start tag "{tag}"'
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def visible_text(markup: str) -> tuple[str, str | None]:
    """Parse like Telegram's HTML mode: (text after entity parsing, error or None)."""
    for i, ch in enumerate(markup):  # bare & that is not an entity
        if ch == "&" and not any(markup.startswith(e, i) for e in ("&lt;", "&gt;", "&amp;", "&quot;", "&#")):
            return "", "Can't parse entities: unsupported entity"
    checker = _Checker()
    checker.feed(markup)
    checker.close()
    if checker.error:
        return "", f"Can't parse entities: {checker.error}"
    if checker.stack:
        return "", f"Can't parse entities: can't find end tag corresponding to start tag \"{checker.stack[-1]}\""
    return html.unescape("".join(checker.text)), None


class FakeTelegramBotApi(FakeServer):
    def __init__(self, token: str = "123456:TEST-token", *, group_limit: int = 20, group_window: float = 60.0):
        super().__init__()
        self.token = token
        self.messages: list[dict] = []
        self.rate_limit_next: list[int] = []  # retry_after values for the next sendMessage calls
        self.fail_next: list[int] = []  # HTTP status codes to answer with (e.g. 500) for the next calls
        self._ids = itertools.count(1)
        self.chats: set[str] = set()  # groups the bot is a member of (getChat); empty: sendMessage still works
        self.migrated: dict[str, int] = {}  # basic group id → the supergroup it was upgraded to
        self.forums: dict[str, set[int]] = {}  # forum supergroup id → its topics (message_thread_id)
        self.group_limit, self.group_window = group_limit, group_window
        self.rate_limited = 0  # 429 answers of the group limit
        self.drop_after: set[int] = set()  # these messages (1-based) are delivered, then the connection is cut
        self._delivered: dict[str, deque[float]] = {}

    @staticmethod
    def _error(code: int, description: str, **parameters) -> tuple[int, dict, dict]:
        body = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        headers = {"Retry-After": str(parameters["retry_after"])} if "retry_after" in parameters else {}
        return code, headers, body

    def _over_group_limit(self, chat_id: str) -> int:
        """Seconds to wait when one more message would exceed the group limit, else 0."""
        if not chat_id.startswith("-"):
            return 0
        sent = self._delivered.setdefault(chat_id, deque())
        now = time.monotonic()
        while sent and sent[0] <= now - self.group_window:
            sent.popleft()
        if len(sent) < self.group_limit:
            return 0
        return max(1, math.ceil(sent[0] + self.group_window - now))

    def handle(self, req: Request):
        prefix = f"/bot{self.token}/"
        if not req.path.startswith(prefix):
            return 404, {}, {"ok": False, "error_code": 404, "description": "Not Found"}
        method = req.path[len(prefix) :]
        if method == "getMe":
            return (
                200,
                {},
                {
                    "ok": True,
                    "result": {
                        "id": 123456,
                        "is_bot": True,
                        "first_name": "Клиент360",
                        "username": "client360_bot",
                        "can_join_groups": True,
                    },
                },
            )
        if method == "getChat":
            chat_id = str(req.json().get("chat_id"))
            if chat_id not in self.chats:
                return 400, {}, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
            return 200, {}, {"ok": True, "result": {"id": int(chat_id), "type": "supergroup", "title": "Кураторы"}}
        if method != "sendMessage" or req.method != "POST":
            return 404, {}, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        if self.rate_limit_next:
            wait = self.rate_limit_next.pop(0)
            return (
                429,
                {},
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {wait}",
                    "parameters": {"retry_after": wait},
                },
            )
        if self.fail_next:
            code = self.fail_next.pop(0)
            return code, {}, {"ok": False, "error_code": code, "description": "Internal Server Error"}
        body = req.json()
        if not body.get("chat_id"):
            return 400, {}, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
        chat_id = str(body["chat_id"])
        if chat_id in self.migrated:
            return self._error(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=self.migrated[chat_id],
            )
        thread = body.get("message_thread_id")
        if thread is not None and chat_id in self.forums and int(thread) not in self.forums[chat_id]:
            return self._error(400, "Bad Request: message thread not found")
        wait = self._over_group_limit(chat_id)
        if wait:
            self.rate_limited += 1
            return self._error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        text = body.get("text") or ""
        if body.get("parse_mode") == "HTML":
            text, error = visible_text(text)
            if error:
                return 400, {}, {"ok": False, "error_code": 400, "description": f"Bad Request: {error}"}
        if not text.strip():
            return 400, {}, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return 400, {}, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
        message = {
            "message_id": next(self._ids),
            "chat": {"id": int(chat_id), "type": "supergroup", "title": "Кураторы"},
            "date": int(time.time()),
            "text": text,
            "raw": body["text"],
        }
        if thread is not None and chat_id in self.forums:  # Message.message_thread_id / is_topic_message
            message.update(message_thread_id=int(thread), is_topic_message=True)
        self.messages.append(message)
        self._delivered.setdefault(chat_id, deque()).append(time.monotonic())
        if len(self.messages) in self.drop_after:
            return None, {}, b""
        return 200, {}, {"ok": True, "result": {k: v for k, v in message.items() if k != "raw"}}
