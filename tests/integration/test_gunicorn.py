"""The service as deployed: gunicorn with gunicorn.conf.py and two workers forked from the preloaded app. Its own
refusals are problem+json, /metrics sums both workers (prometheus_client multiprocess mode), and a worker never
uses a database connection of the master's."""

from __future__ import annotations

import gc
import json
import os
import re
import runpy
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class Server:
    port: int
    metrics_dir: Path

    def get(self, path: str) -> tuple[int, str]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as resp:
            return resp.status, resp.read().decode()

    def raw(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send bytes as they are; the status, headers and body of the answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(request)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines)
        return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("gunicorn")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'permit.db'}",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
        "PERMIT_ENV": "development",
        "LOG_LEVEL": "warning",
    }
    subprocess.run(
        [BIN / "permit-service", "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    process = subprocess.Popen(
        [BIN / "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    running = Server(port, tmp / "metrics")
    try:
        for _ in range(300):
            try:
                if running.get("/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not answer within 30 s")
        yield running
    finally:
        process.terminate()
        process.wait(timeout=30)


def _requests_counted(text: str, endpoint: str) -> float:
    pattern = rf'^permit_http_requests_total\{{[^}}]*endpoint="{re.escape(endpoint)}"[^}}]*status="200"[^}}]*\}} (\S+)$'
    return sum(float(value) for value in re.findall(pattern, text, re.M))


def _workers_with_metrics(metrics_dir: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}


def test_metrics_sum_the_requests_of_both_workers(server):
    healthz = 1  # the fixture's readiness poll
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(20):  # until both workers have served (each writes its own file)
            healthz += sum(
                1 for status, _ in pool.map(lambda _: server.get("/healthz"), range(16)) if status == 200
            )
            if len(_workers_with_metrics(server.metrics_dir)) >= 2:
                break
    assert len(_workers_with_metrics(server.metrics_dir)) == 2
    for _ in range(6):  # whichever worker answers the scrape, it counts both
        status, text = server.get("/metrics")
        assert status == 200
        assert _requests_counted(text, "/healthz") == healthz


def test_metrics_name_their_charset_once(server):
    status, headers, _body = server.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200
    assert headers["content-type"].count("charset") == 1


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 9000 + b"\r\n\r\n", 431),
        (b"GARBAGE\r\n\r\n", 400),
    ],
    ids=["request-line-too-long", "too-many-headers", "header-too-large", "malformed"],
)
def test_gunicorns_own_refusals_are_problem_json(server, request_bytes, status):
    answered, headers, body = server.raw(request_bytes)
    assert answered == status
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == status
    assert problem["message_zh"] and problem["message_en"]
    assert problem["detail"] == f"{problem['message_zh']} / {problem['message_en']}"


@pytest.fixture
def collector_thresholds():
    """The process's cyclic-collector thresholds, put back after a test that runs post_fork."""
    saved = gc.get_threshold()
    yield saved
    gc.set_threshold(*saved)


def test_a_worker_collects_reference_cycles_less_often_than_cpythons_default(
    app, tmp_path, monkeypatch, collector_thresholds
):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    settings["post_fork"](SimpleNamespace(app=SimpleNamespace(callable=app)), None)
    assert gc.get_threshold() == (2000, *collector_thresholds[1:])


def test_a_worker_forked_from_the_preloaded_app_opens_connections_of_its_own(
    app, tmp_path, monkeypatch, collector_thresholds
):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # the settings file sets it for the process
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["preload_app"]
    engine = app.extensions["db_engine"]
    with engine.connect() as conn:
        masters = conn.connection.dbapi_connection
    settings["post_fork"](SimpleNamespace(app=SimpleNamespace(callable=app)), None)
    with engine.connect() as conn:
        assert conn.connection.dbapi_connection is not masters
    masters.execute("SELECT 1")  # left open: closing it would end the master's session on the shared socket
    masters.close()
    # bench/compare serves the floor, another app, with these settings: its workers boot all the same
    settings["post_fork"](SimpleNamespace(app=SimpleNamespace(callable=Flask("floor"))), None)
