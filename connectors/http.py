"""The one HTTP base for every external system: retries with backoff, rate limit, clear errors."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from connectors.redact import CREDENTIAL_HEADERS, credential, redact, register, register_url

if TYPE_CHECKING:  # httpx (with its CLI's rich) is imported by the clients that call out, not by their importers
    import httpx

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


def _not_sent_errors() -> tuple[type[Exception], ...]:
    """httpx errors raised before a request left this machine: it certainly did not reach the server."""
    import httpx

    return (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ExternalServiceError(RuntimeError):
    """A call to an external system failed; the message says which system, what and why (never a secret: it goes to
    logs, the Dagster run history and the alert group)."""

    def __init__(
        self,
        service: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        outcome_unknown: bool = False,
    ):
        super().__init__(redact(f"{service}: {message}"))
        self.service = service
        self.status = status
        self.retryable = retryable
        # a non-idempotent request that may have been carried out (no answer, or a gateway's 5xx): not to be resent
        self.outcome_unknown = outcome_unknown


class RetryLater(Exception):
    """Raised inside a retried call to ask for another attempt after `delay` seconds (None: backoff)."""

    def __init__(self, error: Exception, delay: float | None = None):
        super().__init__(redact(error))
        self.error = error
        self.delay = delay


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int = 5,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `call`; when it raises RetryLater, wait (its delay or exponential backoff with jitter) and retry."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except RetryLater as exc:
            if attempt == attempts:
                raise exc.error from None
            if exc.delay is not None:  # the server said how long to wait
                delay = exc.delay
            else:
                delay = min(max_delay, base_delay * 2 ** (attempt - 1))
                delay += random.uniform(0, 0.1 * delay)
            log.warning("повтор через %.1f с (попытка %d из %d): %s", delay, attempt, attempts, exc.error)
            sleep(delay)
    raise AssertionError("unreachable")


class HttpClient:
    """httpx wrapper: one base URL, retries on transport errors/429/5xx, minimal interval between calls."""

    service = "HTTP"

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
        attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        min_interval: float = 0.0,
    ):
        import httpx

        # the credentials this client holds (in its URL, in its headers) never appear in what it reports
        register_url(base_url)
        register(*(credential(v) for k, v in (headers or {}).items() if k.lower() in CREDENTIAL_HEADERS))
        self._client = httpx.Client(base_url=base_url, headers=headers or {}, timeout=timeout)
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.min_interval = min_interval
        self._last_call = 0.0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def retry_after(self, response: httpx.Response) -> float | None:
        """Seconds the server asked us to wait; subclasses read service-specific bodies."""
        value = response.headers.get("Retry-After")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def error_message(self, response: httpx.Response) -> str:
        text = redact(response.text.strip())  # before cutting: a secret cut in half is no longer recognised
        path = redact(response.request.url.path)
        return f"HTTP {response.status_code} от {response.request.method} {path}: {text[:500]}"

    def error_for(self, response: httpx.Response, *, retryable: bool, outcome_unknown: bool) -> ExternalServiceError:
        """The error an answer of status >= 400 raises; subclasses return their own kinds (with parsed details)."""
        return ExternalServiceError(
            self.service,
            self.error_message(response),
            status=response.status_code,
            retryable=retryable,
            outcome_unknown=outcome_unknown,
        )

    def _throttle(self) -> None:
        if self.min_interval <= 0:
            return
        with self._lock:
            wait = self._last_call + self.min_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_call = time.monotonic()

    def request(self, method: str, url: str, *, idempotent: bool = True, **kwargs: Any) -> httpx.Response:
        """`idempotent=False` (a call that sends or starts something once): retried only when it certainly was not
        carried out — a connection that never opened, or 429 (refused before processing); a lost answer or a 5xx
        (a gateway's 502/504 says nothing about the server behind it) raises with `outcome_unknown`."""
        import httpx

        def attempt() -> httpx.Response:
            self._throttle()
            try:
                response = self._client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                unknown = not idempotent and not isinstance(exc, _not_sent_errors())
                # not chained: the library's exception may name the URL, and the chain is kept in the run history
                error = ExternalServiceError(
                    self.service,
                    f"нет связи ({type(exc).__name__}: {exc})"
                    + (" — запрос мог быть выполнен, повторно не отправляем" if unknown else ""),
                    retryable=not unknown,
                    outcome_unknown=unknown,
                )
                if unknown:
                    raise error from None
                raise RetryLater(error) from None
            if response.status_code < 400:
                return response
            status = response.status_code
            retryable = status in RETRYABLE_STATUS if idempotent else status == 429
            error = self.error_for(response, retryable=retryable, outcome_unknown=not idempotent and status >= 500)
            if error.retryable:
                raise RetryLater(error, self.retry_after(response))
            raise error

        return with_retries(attempt, attempts=self.attempts, base_delay=self.base_delay, max_delay=self.max_delay)
