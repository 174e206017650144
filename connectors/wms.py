"""WMS adapters: one interface, the reference HTTP contract (design.md) as the default implementation.

Another WMS = one class with the same five methods, named in C360_WMS_ADAPTER as "package.module:Class".
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import date, datetime
from typing import Protocol

from connectors.http import ExternalServiceError, HttpClient
from connectors.redact import redact

ORDER_KINDS = ("marketplace", "withdrawal", "fbs")


class WmsPageError(ExternalServiceError):
    """One page of a WMS answer could not be read; the caller skips that listing and goes on."""


class WmsAdapter(Protocol):
    name: str

    def clients(self) -> Iterator[dict]: ...  # {id, name, inn}

    def stock(
        self, client_id: str, as_of: date | None = None
    ) -> Iterator[dict]: ...  # {sku, name, on_hand, reserved, as_of}

    def orders(self, client_id: str, since: datetime | None) -> Iterator[dict]: ...

    def receipts(self, client_id: str, since: datetime | None) -> Iterator[dict]: ...

    def reservations(self, client_id: str, since: datetime | None) -> Iterator[dict]: ...

    def close(self) -> None: ...


class ReferenceWmsAdapter(HttpClient):
    """GET + bearer token + cursor pages {"items": [...], "next_cursor": str|null}."""

    name = "reference"
    service = "WMS"

    def __init__(self, base_url: str, token: str, *, page_size: int = 500, **kwargs):
        if not base_url:
            raise ExternalServiceError(self.service, "не задан C360_WMS_BASE_URL")
        super().__init__(base_url, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        self.page_size = page_size
        self.pages = 0

    def error_message(self, response) -> str:
        if response.status_code in (401, 403):
            return f"WMS отклонила токен (HTTP {response.status_code}): проверьте C360_WMS_TOKEN"
        return super().error_message(response)

    def _pages(self, path: str, params: dict | None = None) -> Iterator[dict]:
        cursor = None
        while True:
            query = {**(params or {}), "limit": self.page_size, **({"cursor": cursor} if cursor else {})}
            response = self.request("GET", path, params=query)
            self.pages += 1
            try:
                body = response.json()
                items, cursor = body["items"], body.get("next_cursor")
                if not isinstance(items, list):
                    raise TypeError("items is not a list")
            except (ValueError, KeyError, TypeError) as exc:
                raise WmsPageError(  # redacted before cutting: half a secret is no longer recognised
                    self.service, f"{path}: страница не читается ({exc}): {redact(response.text)[:200]}"
                ) from None
            yield from items
            if not cursor:
                return

    def clients(self) -> Iterator[dict]:
        return self._pages("/clients")

    def stock(self, client_id: str, as_of: date | None = None) -> Iterator[dict]:
        # `as_of` is this project's extension of the contract (the simulator honours it) for stock history
        return self._pages(f"/clients/{client_id}/stock", {"as_of": as_of.isoformat()} if as_of else None)

    def _since(self, what: str, client_id: str, since: datetime | None) -> Iterator[dict]:
        return self._pages(f"/clients/{client_id}/{what}", {"since": since.isoformat()} if since else None)

    def orders(self, client_id, since):
        return self._since("orders", client_id, since)

    def receipts(self, client_id, since):
        return self._since("receipts", client_id, since)

    def reservations(self, client_id, since):
        return self._since("reservations", client_id, since)


ADAPTERS: dict[str, type] = {"reference": ReferenceWmsAdapter}


def adapter_class(name: str) -> type:
    if name in ADAPTERS:
        return ADAPTERS[name]
    module, _, cls = name.partition(":")
    if not cls:
        raise ValueError(f"C360_WMS_ADAPTER={name!r}: известны {sorted(ADAPTERS)} или укажите 'пакет.модуль:Класс'")
    return getattr(importlib.import_module(module), cls)
