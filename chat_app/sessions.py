"""Login sessions that expire. Gradio keeps its logged-in sessions in a plain dict (cookie token → login) that
lives as long as the process; every check of a request goes through `tokens.get(token)` or `token in tokens`.
This dict stands in for it: a session ends after `idle` without a request or `lifetime` after the login, and at
once (within `recheck_s`) when `still_valid(login, logged_in_at)` says no — a password changed or the user disabled,
also from another process (`client360 users`), since the check reads the app DB."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

log = logging.getLogger("client360.auth")


class ExpiringSessions(dict):
    def __init__(
        self,
        lifetime_s: float,
        idle_s: float,
        clock: Callable[[], float] = time.monotonic,
        still_valid: Callable[[str, datetime], bool] | None = None,
        recheck_s: float = 1.0,
    ):
        super().__init__()
        self.lifetime_s, self.idle_s, self.clock = lifetime_s, idle_s, clock
        self.still_valid, self.recheck_s = still_valid, recheck_s
        self._born: dict[str, float] = {}
        self._seen: dict[str, float] = {}
        self._logged_in_at: dict[str, datetime] = {}
        self._checked: dict[str, float] = {}

    def __setitem__(self, token: str, login: str) -> None:
        now = self.clock()
        for old in [t for t in list(self._born) if self._expired(t, now)]:  # logins nobody came back to
            self._end(old, "истекла")
        super().__setitem__(token, login)
        self._born[token] = self._seen[token] = self._checked[token] = now
        self._logged_in_at[token] = datetime.now(UTC)

    def _expired(self, token: str, now: float) -> bool:
        return now - self._born[token] > self.lifetime_s or now - self._seen[token] > self.idle_s

    def _end(self, token: str, why: str) -> None:
        login = super().pop(token, None)
        for times in (self._born, self._seen, self._logged_in_at, self._checked):
            times.pop(token, None)
        if login is not None:
            log.info("сессия %s %s", login, why)

    def _revoked(self, token: str, now: float) -> bool:
        if self.still_valid is None or now - self._checked[token] < self.recheck_s:
            return False
        self._checked[token] = now
        return not self.still_valid(super().__getitem__(token), self._logged_in_at[token])

    def _alive(self, token) -> bool:
        if token is None or not super().__contains__(token):
            return False
        now = self.clock()
        if self._expired(token, now):
            self._end(token, "истекла")
            return False
        if self._revoked(token, now):
            self._end(token, "завершена: пароль сменён или пользователь отключён")
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
