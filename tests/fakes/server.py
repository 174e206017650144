"""Base of the fake servers: the project's local HTTP server that logs the requests it received."""

from orchestration.local_http import LoggingHttpServer as FakeServer
from orchestration.local_http import Request

__all__ = ["FakeServer", "Request"]
