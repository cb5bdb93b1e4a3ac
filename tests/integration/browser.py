"""Headless Chromium (Debian's `chromium`, installed by .ci/run) for the tests that look at pages as a person would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (.ci/run installs Debian's `chromium`)"
)
# Any host name but the loopback address fails to resolve: nothing can leave the machine even if the page tried.
OFFLINE = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def chromium(url: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on `url` with the given extra flags; answers the finished process."""
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--host-resolver-rules={OFFLINE}",
        "--virtual-time-budget=20000",
        *args,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
