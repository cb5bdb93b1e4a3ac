"""Gunicorn settings, each overridable from the environment.

| variable | default | meaning |
|---|---|---|
| `LISTEN_HOST` | `127.0.0.1` | address to listen on (the Docker image sets `0.0.0.0`). |
| `PORT` | `8000` | port to listen on. |
| `WEB_CONCURRENCY` | `2` | worker processes. |
| `GUNICORN_TIMEOUT` | `30` | seconds a silent worker may take before it is killed and restarted. |
| `GUNICORN_GRACEFUL_TIMEOUT` | `30` | seconds workers get to finish their requests on shutdown or reload. |
| `PROMETHEUS_MULTIPROC_DIR` | a new temporary directory | where the workers keep their metrics so that `/metrics` sums them; emptied at start. |
| `GUNICORN_PRELOAD` | `1` | `1`: the app is loaded once, in the master, and every worker is forked from it, sharing its memory until written (a worker then holds some 45 MiB of its own instead of 75); `0`: each worker loads its own. Preloaded, a HUP starts new workers with the code the master loaded: deploy new code by restarting the service (a new container). |

The scheduler is never started here: it runs as its own process (`permit-service scheduler`), because
APScheduler job stores cannot be shared between schedulers and every worker would start one. Neither are the MQTT
and OPC UA bridges (their own commands).
"""

import gc
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
# Issue 14 (memory per worker): the app is built once and the workers share its pages copy-on-write. Building it
# opens no database connection, starts no thread and no scheduler; metrics values are created per worker (the
# multiprocess client notices the fork); post_fork drops the engine's pool all the same, so a connection can never
# be shared across the fork.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") == "1"
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


def when_ready(server):
    """Preloaded: the app's objects move to the collector's permanent generation before the workers are forked, so
    that a worker's collections do not write to (and copy) the pages it shares with the master."""
    if server.app.callable is not None:
        gc.freeze()


GC_YOUNG_THRESHOLD = 2000  # allocations between young collections (CPython: 700)


def post_fork(server, worker):
    """A worker forked from the preloaded app starts with a pool of its own (close=False: the master's connections,
    if it ever had any, are left to the master), and collects reference cycles less often than CPython's default."""
    # Each request leaves a few hundred objects in reference cycles (the ORM's graph of a permit, its crew and their
    # instance states), which only the cyclic collector frees. At the default first threshold (700 allocations) an
    # action ran one young collection and every eleventh request an older one, about 5 % of its CPU (issue 14);
    # at 2,000, a fifth as many young collections and 1.8 % fewer instructions per suspend or resume (callgrind);
    # the cycles wait about two requests longer to be freed.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    # No engine: not preloaded, or another app served with these settings (bench/compare runs the floor from here).
    engine = getattr(server.app.callable, "extensions", {}).get("db_engine")
    if engine is not None:
        engine.dispose(close=False)
