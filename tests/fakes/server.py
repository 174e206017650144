"""Base of the fake servers: the project's local HTTP server plus a log of the requests it received."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

from orchestration.local_http import LocalHttpServer


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self):
        return json.loads(self.body or b"null")


class FakeServer(LocalHttpServer):
    def __init__(self):
        super().__init__()
        self.requests: list[Request] = []
        self.lock = threading.Lock()

    def respond(self, method: str, path: str, headers: dict, body: bytes):
        url = urlparse(path)
        req = Request(method, url.path, {k: v[0] for k, v in parse_qs(url.query).items()}, headers, body)
        with self.lock:
            self.requests.append(req)
        return self.handle(req)

    def handle(self, req: Request) -> tuple[int, dict, object]:
        raise NotImplementedError
