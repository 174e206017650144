"""The app's HTTP guard: an ASGI middleware around Gradio's FastAPI app. It sends the security headers (the same
ones Caddy sends in production, so the app is safe when it runs alone), makes the login cookie SameSite=Lax
(Gradio sets `none`), refuses request bodies over MAX_BODY_BYTES and closes the upload routes (the app has no
upload), keeps the client's address for the login log, and puts the app's `head` first into the <head> of every
HTML page Gradio serves — the login page too, which Gradio's own `head` never reaches (chat_app/app.py PAGE_HEAD).

The address is the connection's, or the one X-Forwarded-For names when the connection comes from a trusted proxy
(C360_TRUSTED_PROXIES): uvicorn's ProxyHeadersMiddleware resolves it, told which proxies to trust by `launch`."""

from __future__ import annotations

import json
import re
from contextvars import ContextVar

SECURITY_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'none'; img-src 'self' data: blob:; object-src 'none'; base-uri 'self'",
    "X-Frame-Options": "DENY",
    "Strict-Transport-Security": "max-age=31536000",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
MAX_BODY_BYTES = 2 * 2**20  # a long note or question with the chat shown so far fits many times over
CLOSED_PATHS = ("/gradio_api/upload", "/gradio_api/upload_progress")
WITH_BODY = ("POST", "PUT", "PATCH")

client_address: ContextVar[str | None] = ContextVar("client_address", default=None)
_SAMESITE = re.compile(rb";\s*samesite=[^;]*", re.IGNORECASE)
_SECURE = re.compile(rb";\s*secure\s*(;|$)", re.IGNORECASE)
_HEAD = re.compile(rb"<head\b[^>]*>", re.IGNORECASE)


def _cookie(value: bytes, https: bool) -> bytes:
    value = _SAMESITE.sub(b"", value) + b"; SameSite=Lax"
    return value + b"; Secure" if https and not _SECURE.search(value) else value


def _headers(headers: list[tuple[bytes, bytes]], https: bool) -> list[tuple[bytes, bytes]]:
    ours = {name.lower().encode() for name in SECURITY_HEADERS}
    out = [(k, _cookie(v, https) if k.lower() == b"set-cookie" else v) for k, v in headers if k.lower() not in ours]
    return out + [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


class Guard:
    def __init__(self, app, head: str = ""):
        self.app, self.head = app, head.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        https = scope.get("scheme") == "https"
        if scope["path"].rstrip("/") in CLOSED_PATHS:
            return await _refuse(send, 404, "Загрузка файлов в приложении не предусмотрена.", https)
        if scope["method"] in WITH_BODY:  # read the body first: a too-large one never reaches Gradio
            body = await _body(receive)
            if body is None:
                limit = MAX_BODY_BYTES // 2**20
                return await _refuse(send, 413, f"Запрос слишком большой: не больше {limit} МБ.", https)
            receive = _replay(body, receive)

        page: dict | None = None  # an HTML page's start, held until its body is whole and has the head
        parts: list[bytes] = []

        async def send_guarded(message):
            nonlocal page
            if message["type"] == "http.response.start":
                message = {**message, "headers": _headers(list(message.get("headers", [])), https)}
                if self.head and scope["method"] == "GET" and _is_page(message["headers"]):
                    page = message
                    return
            elif message["type"] == "http.response.body" and page is not None:
                parts.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = _HEAD.sub(lambda tag: tag[0] + self.head, b"".join(parts), count=1)
                length = (b"content-length", str(len(body)).encode())
                await send({**page, "headers": [h for h in page["headers"] if h[0] != b"content-length"] + [length]})
                message = {"type": "http.response.body", "body": body}
            await send(message)

        token = client_address.set(scope["client"][0] if scope.get("client") else None)
        try:
            await self.app(scope, receive, send_guarded)
        finally:
            client_address.reset(token)


def _is_page(headers: list[tuple[bytes, bytes]]) -> bool:
    """An uncompressed HTML page (Gradio's brotli middleware is outside this one, so it compresses after)."""
    kinds = {k.lower(): v.lower() for k, v in headers}
    return kinds.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in kinds


async def _body(receive) -> bytes | None:
    """The whole request body, or None once it passes MAX_BODY_BYTES."""
    parts, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        size += len(parts[-1])
        if size > MAX_BODY_BYTES:
            return None
        more = message.get("more_body", False)
    return b"".join(parts)


def _replay(body: bytes, receive):
    sent = False

    async def again():
        nonlocal sent
        if sent:
            return await receive()  # a disconnect, for whoever waits for one
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def _refuse(send, status: int, message: str, https: bool) -> None:
    body = json.dumps({"detail": message}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": _headers(headers, https)})
    await send({"type": "http.response.body", "body": body})
