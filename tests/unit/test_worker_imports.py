"""Issue 14 (<= 150 MB per worker): a worker's app leaves out the packages only some requests need, and imports
each when the first of those requests comes: holidays (a year no regulator confirmed and chinese_calendar does not
cover), psutil (vetting a webhook's address), segno (the printed form's QR code). shapely, with numpy, tests every
on-site position fix (G-06): the app imports it when it is built, so that gunicorn's master loads it once before
forking (GUNICORN_PRELOAD) and the workers share its pages instead of each importing its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys

LATE = ("holidays", "psutil", "segno")
PRELOADED = ("shapely", "numpy")

APP_AND_A_POSITION_FIX = """
import json, sys
from permit_service import create_app
create_app()
built = sorted(m for m in %r + %r if m in sys.modules)
from permit_service.directory.geometry import covers, position_point
square = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}
assert covers(square, position_point({"x": 5, "y": 5}))
print(json.dumps([built, sorted(m for m in %r if m in sys.modules)]))
"""


def test_the_app_imports_shapely_when_built_and_none_of_the_packages_only_some_requests_need(tmp_path):
    env = {
        **os.environ,
        "PERMIT_ENV": "test",
        "JWT_SECRET_KEY": "worker-imports-test-secret-0123456789abcdef",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
    }
    out = subprocess.run(
        [sys.executable, "-c", APP_AND_A_POSITION_FIX % (LATE, PRELOADED, LATE)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    built, after_a_fix = json.loads(out.stdout.splitlines()[-1])
    assert built == sorted(PRELOADED)
    assert after_a_fix == []
