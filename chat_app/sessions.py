"""Login sessions that expire. Gradio keeps its logged-in sessions in a plain dict (cookie token → login) that
lives as long as the process; every check of a request goes through `tokens.get(token)` or `token in tokens`.
This dict stands in for it: a session ends after `idle` without a request or `lifetime` after the login."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("client360.auth")


class ExpiringSessions(dict):
    def __init__(self, lifetime_s: float, idle_s: float, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.lifetime_s, self.idle_s, self.clock = lifetime_s, idle_s, clock
        self._born: dict[str, float] = {}
        self._seen: dict[str, float] = {}

    def __setitem__(self, token: str, login: str) -> None:
        now = self.clock()
        for old in [t for t in list(self._born) if self._expired(t, now)]:  # logins nobody came back to
            self._end(old, "истекла")
        super().__setitem__(token, login)
        self._born[token] = self._seen[token] = now

    def _expired(self, token: str, now: float) -> bool:
        return now - self._born[token] > self.lifetime_s or now - self._seen[token] > self.idle_s

    def _end(self, token: str, why: str) -> None:
        login = super().pop(token, None)
        self._born.pop(token, None)
        self._seen.pop(token, None)
        if login is not None:
            log.info("сессия %s %s", login, why)

    def _alive(self, token) -> bool:
        if token is None or not super().__contains__(token):
            return False
        now = self.clock()
        if self._expired(token, now):
            self._end(token, "истекла")
            return False
        self._seen[token] = now
        return True

    def get(self, token, default=None):
        return super().get(token) if self._alive(token) else default

    def __contains__(self, token) -> bool:
        return self._alive(token)

    def __delitem__(self, token: str) -> None:
        if not super().__contains__(token):
            raise KeyError(token)
        self._end(token, "завершена (выход)")
