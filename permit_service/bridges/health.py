"""A bridge's own small HTTP endpoint: /metrics (Prometheus text) and /readyz (200 ready, 503 with the reason)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from permit_service.bridges.settings import Health

Readiness = Callable[[], str | None]  # None when ready, else why not


class HealthServer:
    """Serves /metrics from a registry and /readyz from a readiness check, on a daemon thread."""

    def __init__(self, settings: Health, registry: CollectorRegistry, ready: Readiness) -> None:
        self._settings = settings
        registry_, ready_ = registry, ready

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._send(200, generate_latest(registry_), CONTENT_TYPE_LATEST)
                elif self.path == "/readyz":
                    reason = ready_()
                    body = (
                        {"status": "ready"} if reason is None else {"status": "not ready", "reason": reason}
                    )
                    self._send(200 if reason is None else 503, json.dumps(body).encode(), "application/json")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                return None  # probes every few seconds are not worth a log line

        self._handler = Handler
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        """The port bound once started (useful when configured as 0)."""
        return self._server.server_address[1] if self._server else self._settings.port

    def start(self) -> None:
        """Bind and serve on a daemon thread."""
        self._server = ThreadingHTTPServer((self._settings.host, self._settings.port), self._handler)
        threading.Thread(target=self._server.serve_forever, name="bridge-health", daemon=True).start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
