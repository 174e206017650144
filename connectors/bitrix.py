"""Bitrix24 REST through an incoming webhook: list paging, batch, rate limit, clear errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import quote

from connectors.http import ExternalServiceError, HttpClient

PAGE = 50  # Bitrix24 list methods always return 50 rows a page
BATCH_MAX = 50  # sub-calls per `batch`

if TYPE_CHECKING:
    import httpx

AUTH_ERRORS = {
    "NO_AUTH_FOUND": "неверный адрес вебхука (код вебхука не найден): проверьте BITRIX_WEBHOOK_URL",
    "expired_token": "вебхук или токен устарел: создайте вебхук заново и обновите BITRIX_WEBHOOK_URL",
    "INVALID_CREDENTIALS": "у пользователя вебхука нет доступа: проверьте, что он активен и имеет права на CRM",
    "ACCESS_DENIED": "доступ запрещён (REST доступен только на коммерческих тарифах или нет прав на объект)",
}
SCOPE_BY_METHOD = {"crm": "crm (CRM)", "user": "user (Пользователи)", "disk": "disk (Диск)", "voximplant": "telephony"}


def build_query(params: dict, prefix: str = "") -> list[tuple[str, str]]:
    """PHP-style nested query (filter[>=LAST_UPDATED]=…, select[0]=*), as `batch` sub-calls expect."""
    pairs: list[tuple[str, str]] = []
    items = params.items() if isinstance(params, dict) else enumerate(params)
    for key, value in items:
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict | list | tuple):
            pairs += build_query(value if isinstance(value, dict) else list(value), name)
        elif value is not None:
            pairs.append((name, "Y" if value is True else ("N" if value is False else str(value))))
    return pairs


def encode_call(method: str, params: dict) -> str:
    query = "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in build_query(params))
    return f"{method}?{query}" if query else method


class BitrixError(ExternalServiceError):
    def __init__(self, code: str, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__("Bitrix24", message, status=status, retryable=retryable)
        self.code = code


class BitrixClient(HttpClient):
    service = "Bitrix24"

    def __init__(self, webhook_url: str, *, rate_per_second: float = 2.0, **kwargs):
        if not webhook_url:
            raise BitrixError("NO_WEBHOOK", "не задан BITRIX_WEBHOOK_URL")
        kwargs.setdefault("min_interval", 1.0 / rate_per_second if rate_per_second > 0 else 0.0)
        kwargs.setdefault("timeout", 70.0)  # a cloud request is cut at 60 s
        super().__init__(webhook_url.rstrip("/") + "/", **kwargs)
        self.requests_made = 0

    def retry_after(self, response: httpx.Response) -> float | None:
        try:
            body = response.json()
        except ValueError:
            return super().retry_after(response)
        if body.get("error") == "OPERATION_TIME_LIMIT":  # per-method time budget: wait for its reset
            reset = (body.get("time") or {}).get("operating_reset_at")
            if isinstance(reset, int | float):
                return max(1.0, min(600.0, reset - time.time()))
        return super().retry_after(response)

    def error_message(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return super().error_message(response)
        code = str(body.get("error", response.status_code))
        method = response.request.url.path.rsplit("/", 1)[-1].removesuffix(".json")
        if code == "insufficient_scope":
            scope = SCOPE_BY_METHOD.get(method.split(".", 1)[0], method.split(".", 1)[0])
            return f"у вебхука нет права «{scope}», нужного для {method}: добавьте его в настройках вебхука"
        if code in AUTH_ERRORS:
            return f"{AUTH_ERRORS[code]} ({method})"
        return f"{method}: {code} — {body.get('error_description', '')} (HTTP {response.status_code})"

    def call(self, method: str, params: dict | None = None) -> dict:
        self.requests_made += 1
        body = self.request("POST", f"{method}.json", json=params or {}).json()
        if "error" in body:  # some errors come with HTTP 200
            raise BitrixError(
                body["error"], f"{method}: {body['error']} — {body.get('error_description', '')}"
            )
        return body

    def list_all(self, method: str, params: dict | None = None) -> Iterator[dict]:
        """Every row of a list method, page by page (`start` = the previous answer's `next`)."""
        params = dict(params or {})
        start = 0
        while True:
            body = self.call(method, {**params, "start": start})
            rows = body.get("result") or []
            yield from rows
            if body.get("next") is None or not rows:
                return
            start = body["next"]

    def batch(self, calls: dict[str, tuple[str, dict]]) -> tuple[dict, dict, dict]:
        """Up to 50 sub-calls per request; returns (results, errors, next-offsets) keyed like `calls`."""
        results, errors, nexts = {}, {}, {}
        keys = list(calls)
        for i in range(0, len(keys), BATCH_MAX):
            chunk = {k: encode_call(*calls[k]) for k in keys[i : i + BATCH_MAX]}
            body = self.call("batch", {"halt": 0, "cmd": chunk})["result"]
            results.update(body.get("result") or {})
            errors.update(body.get("result_error") or {})
            nexts.update(body.get("result_next") or {})
        return results, errors, nexts

    def batch_list_all(self, calls: dict[str, tuple[str, dict]]) -> tuple[dict[str, list[dict]], dict[str, object]]:
        """Many list queries at once, following each one's pages through further batches."""
        rows: dict[str, list[dict]] = {k: [] for k in calls}
        failed: dict[str, object] = {}
        pending = {k: (m, dict(p)) for k, (m, p) in calls.items()}
        while pending:
            results, errors, nexts = self.batch(pending)
            following = {}
            for key, (method, params) in pending.items():
                if key in errors:
                    failed[key] = errors[key]
                    continue
                page = results.get(key) or []
                rows[key] += page
                if key in nexts and page:
                    following[key] = (method, {**params, "start": nexts[key]})
            pending = following
        return rows, failed

    def download(self, url: str) -> bytes:
        """A file by its absolute URL (call recordings)."""
        return self.request("GET", url, follow_redirects=True).content
