"""Request ids, JSON logs, Prometheus metrics and the health endpoints."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram

from permit_service import metrics as service_metrics
from permit_service.config import Config
from permit_service.db import get_session
from permit_service.errors import problem_response

log = logging.getLogger(__name__)
_REQUEST_ID_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("request_id", "method", "path", "status", "duration_ms", "principal"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: str) -> None:
    """Send JSON logs to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # transitions logs two INFO lines ("Finished processing state ... callbacks") on every permit transition: noise
    # an operator cannot act on, and formatting them cost each action more than its access log line. DEBUG keeps them.
    chatter = logging.NOTSET if root.level <= logging.DEBUG else max(logging.WARNING, root.level)
    logging.getLogger("transitions").setLevel(chatter)


def init_app(app: Flask, cfg: Config) -> None:
    """Tag each request with an id, time it, count it and log it."""
    if not app.testing and cfg.env != "test":
        configure_logging(cfg.log_level)
    registry = CollectorRegistry()
    requests_total = Counter(
        "permit_http_requests_total", "HTTP requests", ["method", "endpoint", "status"], registry=registry
    )
    latency = Histogram(
        "permit_http_request_seconds", "HTTP request latency", ["method", "endpoint"], registry=registry
    )
    app.extensions["metrics_registry"] = registry
    app.extensions["service_collector"] = service_metrics.ServiceCollector(
        lambda: app.extensions["db_sessionmaker"]()
    )
    access_log = logging.getLogger("permit_service.access")

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        ok = 0 < len(incoming) <= 64 and set(incoming) <= _REQUEST_ID_OK
        g.request_id = incoming if ok else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        requests_total.labels(request.method, endpoint, str(response.status_code)).inc()
        latency.labels(request.method, endpoint).observe(elapsed)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": g.get("request_id"),
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
                "principal": g.get("principal_id"),
            },
        )
        return response


def register(app: Flask) -> None:
    """Liveness, readiness (the database answers) and Prometheus metrics, outside the API."""

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> Response | tuple[dict[str, str], int]:
        try:
            get_session().execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            log.warning("readiness check: database unreachable", exc_info=True)
            return problem_response(
                503, zh="数据库不可用", en="The database is unreachable", slug="not-ready", database="down"
            )
        finally:
            get_session().rollback()
        return {"status": "ok", "database": "up"}, 200

    @app.get("/metrics")
    def metrics() -> Response:
        # CONTENT_TYPE_LATEST names its charset already: set as `mimetype` Flask would add a second one.
        return Response(service_metrics.scrape(app), content_type=CONTENT_TYPE_LATEST)
