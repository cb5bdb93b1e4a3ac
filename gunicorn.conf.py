"""Gunicorn settings, each overridable from the environment.

| variable | default | meaning |
|---|---|---|
| `LISTEN_HOST` | `127.0.0.1` | address to listen on (the Docker image sets `0.0.0.0`). |
| `PORT` | `8000` | port to listen on. |
| `WEB_CONCURRENCY` | `2` | worker processes. |
| `GUNICORN_TIMEOUT` | `30` | seconds a silent worker may take before it is killed and restarted. |
| `GUNICORN_GRACEFUL_TIMEOUT` | `30` | seconds workers get to finish their requests on shutdown or reload. |
| `PROMETHEUS_MULTIPROC_DIR` | a new temporary directory | where the workers keep their metrics so that `/metrics` sums them; emptied at start. |

The scheduler is never started here: it runs as its own process (`permit-service scheduler`), because
APScheduler job stores cannot be shared between schedulers and every worker would start one.
"""

import os
import tempfile
from pathlib import Path

from permit_service.server_errors import install as answer_own_errors_as_problems

# Gunicorn's own refusals (414 request line, 431 headers, 400 malformed) come as problem+json, like the app's.
answer_own_errors_as_problems()

bind = f"{os.environ.get('LISTEN_HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Each worker builds its own app and engine: database connections must not be shared across a fork.
preload_app = False
# The app logs every request as JSON with its request id; a second access log would only repeat it.
accesslog = None
# No runtime control socket (newer gunicorn releases): it lives in $HOME, which the container user cannot write; the
# deployment manages workers with signals.
control_socket_disable = True
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Gunicorn's own messages (boot, worker exits, timeouts) in the same JSON shape as the app's.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "permit_service.observability.JsonFormatter"}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    },
    "root": {"level": loglevel.upper(), "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
    },
}

# Metrics add up across workers: prometheus_client's multiprocess mode keeps each worker's values in files here
# (set before any worker imports prometheus_client; every scrape sums the files).
metrics_dir = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="permit-metrics-"))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)


def on_starting(server):
    """Start from empty metrics: files left by an earlier run would be summed in."""
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for left in metrics_dir.glob("*.db"):
        left.unlink()


def child_exit(server, worker):
    """A dead worker's live gauges leave the sums (its counters stay: they count what it did)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
