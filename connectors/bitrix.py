"""Bitrix24 REST through an incoming webhook: lists paged by ID without a COUNT, batch, the rate limit and the
method time budget waited out, errors that name their cause."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urljoin, urlsplit

from connectors.http import ExternalServiceError, HttpClient
from connectors.redact import register_url

PAGE = 50  # Bitrix24 list methods always return 50 rows a page
BATCH_MAX = 50  # sub-calls per `batch`
# limits.md: a method's execution time is summed in ten one-minute buckets per webhook; over the limit it answers
# 429 OPERATION_TIME_LIMIT until buckets expire. The oldest expires at `time.operating_reset_at`, the next ones
# a minute apart, and none lives longer than the window.
TIME_LIMIT = "OPERATION_TIME_LIMIT"
BUCKET = 60.0
WINDOW = 600.0
RESET_MARGIN = 0.5  # the reset is given in whole seconds of the portal's clock
GAVE_UP = "лимит не сбросился за {:.0f} с ожидания — запрос повторится при следующем запуске, остальное сохранено"
# answers the HTTP retries must leave alone: the time budget is waited out by call()/batch(); OVERLOAD_LIMIT is a
# manual block lifted by Bitrix24 support (_includes/system-errors.md)
NOT_RETRIED = frozenset({TIME_LIMIT, "OVERLOAD_LIMIT"})
# what the webhook itself lacks: every sub-call would fail the same way, so a batch stops at the first one
AUTH_CODES = frozenset({"NO_AUTH_FOUND", "INVALID_CREDENTIALS", "insufficient_scope", "expired_token"})
# the scope each method family needs (api-reference/scopes/permissions.md and each method's «Scope:» line)
SCOPES = {
    "crm": "crm (CRM)",
    "user": "user (Пользователи)",
    "disk": "disk (Диск)",
    "voximplant": "telephony (Телефония)",
    "telephony": "telephony (Телефония)",
    "call": "call (Телефония: звонки)",
    "im": "im (Чаты и уведомления)",
    "department": "department (Структура компании)",
}

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import httpx


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


def scope_of(method: str) -> str:
    """The webhook right a method needs, by its family (voximplant.statistic.get → telephony)."""
    if method.startswith("voximplant.infocall."):
        return SCOPES["call"]
    family = method.split(".", 1)[0]
    return SCOPES.get(family, family)


def explain(code: str, description: str, method: str, status: int | None, *, credentials_sent: bool = True) -> str:
    """The owner's message for a Bitrix24 error code. The documentation gives some codes two statuses
    (_includes/system-errors.md: INVALID_CREDENTIALS and insufficient_scope 403; method pages such as
    crm-item-import.md and im-chat-get.md: INVALID_CREDENTIALS 401 for a wrong user id or code in the path;
    b24pysdk files both under 401): both are handled, and the status only tells a refused webhook (401) from a
    refused user (403)."""
    text = description.lower()
    if code == "NO_AUTH_FOUND":
        if not credentials_sent:
            return (
                "запрос ушёл без данных авторизации (NO_AUTH_FOUND): в BITRIX_WEBHOOK_URL нет кода вебхука — "
                "нужен адрес вида https://портал.bitrix24.ru/rest/<ID пользователя>/<код>/"
            )
        return (
            "Битрикс24 не принял код вебхука (NO_AUTH_FOUND): проверьте BITRIX_WEBHOOK_URL — ID пользователя и код "
            "из настроек входящего вебхука (удалённый или пересозданный вебхук скопируйте заново)"
        )
    if code == "INVALID_CREDENTIALS" and status == 401:
        return (
            "неверный код вебхука или ID пользователя в адресе (INVALID_CREDENTIALS): проверьте BITRIX_WEBHOOK_URL — "
            "скопируйте адрес из настроек входящего вебхука"
        )
    if code == "INVALID_CREDENTIALS":
        return (
            f"пользователь, от имени которого работает вебхук, неактивен (уволен) или не имеет прав на {method} "
            "(INVALID_CREDENTIALS): проверьте его в Битрикс24 или создайте вебхук от активного сотрудника с правами "
            "на CRM"
        )
    if code == "insufficient_scope":
        return (
            f"у вебхука нет права «{scope_of(method)}», нужного для {method} (insufficient_scope): добавьте его в "
            "настройках входящего вебхука (Разработчикам → Входящий вебхук → права доступа)"
        )
    if code == "expired_token":
        return (
            "срок действия вебхука истёк (expired_token): продлите его в настройках входящего вебхука или создайте "
            "новый и обновите BITRIX_WEBHOOK_URL"
        )
    if code == "ACCESS_DENIED" and ("commercial" in text or "тариф" in text):
        return "REST API недоступен на тарифе портала (ACCESS_DENIED): нужен коммерческий тариф с подпиской Маркет"
    if code == "ACCESS_DENIED":
        return (
            f"{method}: доступ запрещён (ACCESS_DENIED) — у пользователя вебхука нет прав на эти данные или функция "
            "выключена на портале (если так отвечает любой метод — REST API недоступен на тарифе портала)"
        )
    if code == "OVERLOAD_LIMIT":
        return (
            "REST API портала заблокирован из-за перегрузки (OVERLOAD_LIMIT): это ручная блокировка, снять её может "
            "техподдержка Битрикс24"
        )
    if code == "QUERY_LIMIT_EXCEEDED":
        return (
            f"{method}: слишком частые запросы (QUERY_LIMIT_EXCEEDED): уменьшите C360_BITRIX_RATE; лимит общий для "
            "всех приложений, обращающихся к порталу с этого адреса"
        )
    if code == TIME_LIMIT:
        told = f"; {description}" if description.startswith(GAVE_UP[:20]) else ""  # ours: how long we waited
        return f"{method}: исчерпан лимит времени выполнения метода за 10 минут (OPERATION_TIME_LIMIT){told}"
    return f"{method}: {code} — {description}" + (f" (HTTP {status})" if status else "")


def reset_deadline(stamp: dict | None) -> float | None:
    """`time.operating_reset_at` of an answer as a deadline on this machine's monotonic clock, or None. The value is
    a unix timestamp (limits.md) or, in some examples, an ISO string (crm-activity-list.md): both are read; it is
    measured against the portal's own clock in the same `time` (`finish`/`start`) when present, so a skewed local
    clock does not shift it, and it is never further than the window."""
    if not isinstance(stamp, dict) or stamp.get("operating_reset_at") in (None, ""):
        return None
    reset = stamp["operating_reset_at"]
    try:
        at = float(reset)
    except (TypeError, ValueError):
        try:
            at = datetime.fromisoformat(str(reset)).timestamp()
        except ValueError:
            return None
    now = stamp.get("finish", stamp.get("start"))
    now = now if isinstance(now, int | float) else time.time()
    return time.monotonic() + max(0.0, min(WINDOW, at - now))


class BitrixError(ExternalServiceError):
    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        reset_at: float | None = None,
    ):
        super().__init__("Bitrix24", message, status=status, retryable=retryable)
        self.code = code
        self.reset_at = reset_at  # OPERATION_TIME_LIMIT: when the method's budget resets (monotonic), if known


def _method_of(response: httpx.Response) -> str:
    return response.request.url.path.rsplit("/", 1)[-1].removesuffix(".json")


class BitrixClient(HttpClient):
    service = "Bitrix24"

    def __init__(
        self,
        webhook_url: str,
        *,
        rate_per_second: float = 2.0,
        max_limit_wait: float = 900.0,
        limit_step: float = BUCKET,
        **kwargs,
    ):
        if not webhook_url:
            raise BitrixError("NO_WEBHOOK", "не задан BITRIX_WEBHOOK_URL")
        kwargs.setdefault("min_interval", 1.0 / rate_per_second if rate_per_second > 0 else 0.0)
        kwargs.setdefault("timeout", 70.0)  # a cloud request is cut at 60 s
        super().__init__(webhook_url.rstrip("/") + "/", **kwargs)
        self.credentials_sent = bool(re.search(r"/rest/\d+/[^/]+/?$", urlsplit(webhook_url).path))
        self.requests_made = 0
        self.max_limit_wait = max_limit_wait  # seconds this client may spend waiting out method time budgets
        self.limit_step = limit_step
        self.limit_waited = 0.0
        self._resets: dict[str, float] = {}  # method → its budget's next reset, from the last successful answer

    def error_for(self, response: httpx.Response, *, retryable: bool, outcome_unknown: bool) -> ExternalServiceError:
        try:
            body = response.json()
        except ValueError:
            body = None
        # the code may be a number: crm.requisite.list refuses with {"error": 0, "error_description": "Access denied."}
        if not isinstance(body, dict) or body.get("error") in (None, ""):
            return super().error_for(response, retryable=retryable, outcome_unknown=outcome_unknown)
        error = self.sub_error(_method_of(response), body, response.status_code)
        error.retryable = retryable and error.code not in NOT_RETRIED
        error.outcome_unknown = outcome_unknown
        return error

    def sub_error(self, method: str, body: dict, status: int | None = None) -> BitrixError:
        """The error of an answer's body (or of a batch sub-call's `result_error` entry), with the owner's message."""
        code = str(body.get("error"))
        message = explain(
            code, str(body.get("error_description") or ""), method, status, credentials_sent=self.credentials_sent
        )
        reset = reset_deadline(body.get("time")) if code == TIME_LIMIT else None
        return BitrixError(code, message, status=status, reset_at=reset)

    def _wait_for_budget(self, errors: dict[str, BitrixError]) -> bool:
        """Wait until the time budgets of these methods (blocked with OPERATION_TIME_LIMIT) reset: at the reset the
        error carries, else the one the method's last successful answer gave, else a bucket later (limits.md:
        «refer to operating_reset_at from the last successful response; if the error persists, wait for the next
        bucket reset»). False, without waiting, when that would pass the client's bound."""
        now = time.monotonic()
        deadlines = []
        for method, error in errors.items():
            at = error.reset_at or self._resets.pop(method, None)
            deadlines.append(at if at is not None and at > now else now + self.limit_step)
        delay = min(WINDOW, max(deadlines) - now) + RESET_MARGIN
        if self.limit_waited + delay > self.max_limit_wait:
            return False
        log.warning(
            "Битрикс24: исчерпан лимит времени метода %s (OPERATION_TIME_LIMIT) — жду сброса %.0f с "
            "(всего ожидания не больше %.0f с), затем продолжаю",
            ", ".join(sorted(errors)),
            delay,
            self.max_limit_wait,
        )
        time.sleep(delay)
        self.limit_waited += delay
        return True

    def _gave_up(self, error: BitrixError) -> BitrixError:
        return BitrixError(
            error.code,
            f"{str(error).removeprefix('Bitrix24: ')}; {GAVE_UP.format(self.limit_waited)}",
            status=error.status,
        )

    def _note_reset(self, method: str, stamp: dict | None) -> None:
        at = reset_deadline(stamp)
        if at is not None:
            self._resets[method] = at

    def call(self, method: str, params: dict | None = None) -> dict:
        """One method call; a method out of its time budget is waited for (within the bound), then called again."""
        while True:
            self.requests_made += 1
            try:
                body = self.request("POST", f"{method}.json", json=params or {}).json()
                if "error" in body:  # some errors come with HTTP 200
                    raise self.sub_error(method, body)
            except BitrixError as exc:
                if exc.code == TIME_LIMIT and self._wait_for_budget({method: exc}):
                    continue
                raise self._gave_up(exc) if exc.code == TIME_LIMIT else exc from None
            self._note_reset(method, body.get("time"))
            return body

    @staticmethod
    def _by_id(params: dict, after: int | None) -> dict:
        """The documented fast page (settings/performance/huge-data.md): ordered by ID, the rows after the last ID
        seen, `start=-1` so that no COUNT for `total` is run; other filters (>=DATE_MODIFY …) stay as given."""
        flt = dict(params.get("filter") or {})
        if after is not None:
            flt[">ID"] = max(after, int(flt.get(">ID") or 0))
        return {**params, "filter": flt, "order": {"ID": "ASC"}, "start": -1}

    def list_all(self, method: str, params: dict | None = None) -> Iterator[dict]:
        """Every row of a list method with `filter`/`order` (crm.*.list), page after page by ID until a page has
        fewer than 50 rows; `total` is never counted."""
        params = dict(params or {})
        after = None
        while True:
            rows = self.call(method, self._by_id(params, after)).get("result") or []
            yield from rows
            if len(rows) < PAGE:
                return
            after = int(rows[-1]["ID"])

    def batch(self, calls: dict[str, tuple[str, dict]]) -> tuple[dict, dict[str, dict], dict]:
        """Up to 50 sub-calls per request; returns (results, errors, next-offsets) keyed like `calls`, an error as
        its `result_error` entry ({"error", "error_description"}; sub_error() words it). A sub-call out of its
        method's time budget is sent again after the reset (the others' results are kept); an error of the webhook
        itself (auth, scope) is raised."""
        results: dict = {}
        errors: dict[str, dict] = {}
        nexts: dict = {}
        keys = list(calls)
        for i in range(0, len(keys), BATCH_MAX):
            todo = {k: calls[k] for k in keys[i : i + BATCH_MAX]}
            while todo:
                cmd = {k: encode_call(*todo[k]) for k in todo}
                body = self.call("batch", {"halt": 0, "cmd": cmd})["result"]
                results.update(_keyed(body.get("result")))
                nexts.update(_keyed(body.get("result_next")))
                for key, stamp in _keyed(body.get("result_time")).items():
                    if key in todo:
                        self._note_reset(todo[key][0], stamp)
                failed = {k: e for k, e in _keyed(body.get("result_error")).items() if isinstance(e, dict)}
                for key, error in failed.items():
                    if error.get("error") in AUTH_CODES:
                        raise self.sub_error(todo[key][0], error)
                blocked = {k: self.sub_error(todo[k][0], e) for k, e in failed.items() if e.get("error") == TIME_LIMIT}
                errors.update({k: e for k, e in failed.items() if k not in blocked})
                if blocked and not self._wait_for_budget({todo[k][0]: e for k, e in blocked.items()}):
                    gave_up = GAVE_UP.format(self.limit_waited)
                    errors.update({k: {**failed[k], "error_description": gave_up} for k in blocked})
                    blocked = {}
                todo = {k: todo[k] for k in blocked}
        return results, errors, nexts

    def batch_list_all(
        self, calls: dict[str, tuple[str, dict]]
    ) -> tuple[dict[str, list[dict]], dict[str, BitrixError]]:
        """Many list queries at once, each paged like list_all (by ID, no COUNT), their next pages in further
        batches; returns (rows, errors) keyed like `calls`."""
        rows: dict[str, list[dict]] = {k: [] for k in calls}
        failed: dict[str, BitrixError] = {}
        pending = {k: (m, self._by_id(p, None)) for k, (m, p) in calls.items()}
        while pending:
            results, errors, _nexts = self.batch(pending)
            failed.update({k: self.sub_error(pending[k][0], e) for k, e in errors.items()})
            following = {}
            for key, (method, _params) in pending.items():
                page = [] if key in errors else results.get(key) or []
                rows[key] += page
                if len(page) >= PAGE:
                    following[key] = (method, self._by_id(calls[key][1], int(page[-1]["ID"])))
            pending = following
        return rows, failed

    def download(self, url: str) -> httpx.Response:
        """A file by its URL: absolute, or relative to the portal (disk.file.get's DOWNLOAD_URL; the docs show it
        absolute). The link carries its own auth and token: they never appear in what this client reports."""
        register_url(url)
        return self.request("GET", urljoin(str(self._client.base_url), url), follow_redirects=True)


def _keyed(value) -> dict:
    """A batch part keyed by sub-call: PHP sends an empty one as `[]`."""
    return value if isinstance(value, dict) else {}
