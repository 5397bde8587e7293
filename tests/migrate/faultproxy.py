"""A small fault-injecting HTTP proxy for S3 (in front of moto_server), bounded in time:
during its fault window it answers a share of requests with 503 SlowDown or 500, and
delays others; after the window it forwards everything untouched."""

from __future__ import annotations

import http.client
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "upgrade"}
SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
INTERNAL = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>"
)


class FaultProxy:
    def __init__(self, upstream_port: int, window_s: float = 4.0, error_rate: float = 0.3,
                 delay_rate: float = 0.3, max_delay: float = 0.8, seed: int = 7):  # fmt: skip
        self.upstream_port = upstream_port
        self.window_s = window_s
        self.error_rate, self.delay_rate, self.max_delay = error_rate, delay_rate, max_delay
        self.rnd = random.Random(seed)
        self.lock = threading.Lock()
        self.t0: float | None = None
        self.stats = {"requests": 0, "errors": 0, "delayed": 0}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fate = proxy.fate()
                if fate == "error":
                    data = proxy.rnd.choice([SLOWDOWN, INTERNAL])
                    self.send_response(503 if data is SLOWDOWN else 500)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if fate == "delay":
                    time.sleep(proxy.rnd.uniform(proxy.max_delay / 10, proxy.max_delay))
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                conn.request(self.command, self.path, body=body if body else None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *a: None  # a killed client's broken pipe: expected
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fate(self) -> str:
        with self.lock:
            self.stats["requests"] += 1
            if self.t0 is None:
                self.t0 = time.monotonic()
            if time.monotonic() - self.t0 > self.window_s:
                return "pass"
            r = self.rnd.random()
            if r < self.error_rate:
                self.stats["errors"] += 1
                return "error"
            if r < self.error_rate + self.delay_rate:
                self.stats["delayed"] += 1
                return "delay"
            return "pass"

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def arm(self) -> None:
        """Start the fault window now."""
        with self.lock:
            self.t0 = time.monotonic()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
