"""The README's curl walkthrough, run as written with bash against the service as `make run` serves it (gunicorn on
a freshly migrated database holding the demo data; SQLite, or PostgreSQL in the PostgreSQL suite), by day and at
night: it must take its permit to `closed`. Nothing of the block is changed, so a README that drifts from the service
fails here."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from permit_service.demo import DEMO_PASSWORD
from tests.conftest import ON_POSTGRES, PG_URL

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
README = ROOT / "README.md"
SECTION = "## curl 演练"
SHANGHAI = ZoneInfo("Asia/Shanghai")
MISSING = [tool for tool in ("curl", "jq", "date", "python3") if shutil.which(tool) is None]


@pytest.fixture(autouse=True)
def _tools() -> None:
    """The walkthrough's tools: .ci/run installs them, so CI fails without them; elsewhere the test is skipped."""
    if MISSING:
        why = f"the README walkthrough needs {', '.join(MISSING)}"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


def walkthrough_blocks(text: str) -> list[str]:
    """The ```sh blocks of the README's walkthrough section, in order."""
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else len(text)]
    return re.findall(r"^```sh\n(.*?)^```$", section, re.M | re.S)


@dataclass
class Service:
    port: int

    def call(self, method: str, path: str, token: str | None = None, body: object = None) -> object:
        """A JSON call to the API; answers the decoded body (raises on an error status)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v1{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read() or b"null")

    def login(self, username: str) -> str:
        return self.call("POST", "/auth/login", body={"username": username, "password": DEMO_PASSWORD})[
            "access_token"
        ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def database(name: str, tmp: Path) -> Iterator[str]:
    """The suite's database kind, as the README's production section or `make run` sets it up: a fresh database."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp / 'permit.db'}"
        return
    admin = sa.make_url(PG_URL)
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    name = f"permit_walkthrough_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}_{name}"
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


@contextmanager
def serve(tmp: Path, database_url: str, policy: dict[str, str]) -> Iterator[Service]:
    """`make run`'s steps (migrate, seed the demo, gunicorn) on a fresh database, with the given policy settings."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
        "PERMIT_ENV": "development",
        "LOG_LEVEL": "warning",
        **policy,
    }
    for command in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run([BIN / "permit-service", *command], env=env, cwd=ROOT, check=True, capture_output=True)
    with (tmp / "gunicorn.log").open("w") as log:
        process = subprocess.Popen(
            [BIN / "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            for _ in range(300):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                        break
                except OSError:
                    time.sleep(0.1)
            else:
                pytest.fail("gunicorn did not answer within 30 s")
            yield Service(port)
        finally:
            process.terminate()
            process.wait(timeout=30)


def working_days(service: Service) -> None:
    """The city regulator marks the days the walkthrough's window touches as working days (FZ-04 overrides)."""
    token = service.login("reg.city")
    city = service.call("GET", "/auth/me", token)["region_id"]
    today = datetime.now(SHANGHAI).date()
    for day in (today, today + timedelta(days=1)):
        service.call("PUT", f"/calendar/overrides/{city}/{day.isoformat()}", token, {"rest_day": False})


def run_walkthrough(service: Service, cwd: Path, blocks: list[str]) -> subprocess.CompletedProcess[str]:
    """The blocks one after the other in one bash, as a newcomer pastes them, but stopping at the first failure:
    through a .curlrc the README does not see, curl fails on an error status and logs each call on stderr."""
    curlrc = 'fail-with-body\nshow-error\nwrite-out = "%{stderr}%{http_code} %{method} %{url_effective}\\n"\n'
    (cwd / ".curlrc").write_text(curlrc, encoding="utf-8")
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(blocks)],
        env={**os.environ, "PORT": str(service.port), "CURL_HOME": str(cwd)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# By day the permit is level 1 and the safety department approves; at night (here: the whole day is night) or on a
# rest day HW-03 raises it to special and the leader in charge approves.
HOURS = {
    "day": ({"POLICY_NIGHT_START": "06:00", "POLICY_NIGHT_END": "06:00"}, "level1", "safety_dept"),
    "night": ({"POLICY_NIGHT_START": "00:00", "POLICY_NIGHT_END": "23:59"}, "special", "leader_in_charge"),
}
SIGNERS = {"applicant", "analyst", "work_leader", "worker", "shift_leader", "unit_leader"}


@pytest.mark.parametrize("hour", list(HOURS))
def test_the_readme_walkthrough_takes_its_permit_to_closed(hour: str, tmp_path: Path) -> None:
    policy, grade, approver = HOURS[hour]
    blocks = walkthrough_blocks(README.read_text(encoding="utf-8"))
    assert blocks, f"no ```sh block under {SECTION!r} in README.md"

    with database(hour, tmp_path) as url, serve(tmp_path, url, policy) as service:
        if hour == "day":
            working_days(service)
        run = run_walkthrough(service, tmp_path, blocks)

        assert run.returncode == 0, (
            f"the walkthrough stopped (exit {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
        )
        assert run.stdout.splitlines()[-1] == "closed"
        token = service.login("lh.applicant")
        [permit] = service.call("GET", "/permits", token)["items"]
        assert (permit["type"], permit["grade"], permit["state"]) == ("hot_work", grade, "closed")
        events = service.call("GET", f"/permits/{permit['id']}/events", token)["items"]
    [approval] = [e for e in events if e["kind"] == "permit.approve"]
    assert approval["role"] == approver
    assert approval["evidence"]["on_site"] == "card_sighting"  # G-06: checked, not declared
    assert {role for e in events for role in e["actor_roles"]} >= SIGNERS  # each role logged in and signed
