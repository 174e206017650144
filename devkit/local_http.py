"""A small threaded HTTP server on 127.0.0.1 (the WMS and Bitrix24 simulators; the test fakes)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class LocalHttpServer:
    """Subclasses implement `respond(method, path, headers, body) -> (status, headers, body)`;
    a dict/list body is sent as JSON, a str as UTF-8 text, bytes as they are; status None closes the connection
    without an answer (a server that did the work and was cut off before replying)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in separate writes: avoid 40 ms delayed ACKs

            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, extra, body = server.respond(self.command, self.path, headers, self.rfile.read(length))
                if status is None:
                    self.close_connection = True
                    return
                if isinstance(body, dict | list):
                    body = json.dumps(body, ensure_ascii=False).encode()
                    extra = {"Content-Type": "application/json", **extra}
                elif isinstance(body, str):
                    body = body.encode()
                try:
                    self.send_response(status)
                    for key, value in extra.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeouts)

            do_GET = do_POST = _serve

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def respond(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, dict, object]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


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


class LoggingHttpServer(LocalHttpServer):
    """Keeps every request it received (`requests`); subclasses implement `handle(request)`."""

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
