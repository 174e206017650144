"""Base of the fake servers: the project's local HTTP server that logs the requests it received."""

from devkit.local_http import LoggingHttpServer as FakeServer
from devkit.local_http import Request

__all__ = ["FakeServer", "Request"]
