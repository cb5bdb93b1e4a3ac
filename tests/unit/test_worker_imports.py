"""Issue 14 (<= 150 MB per worker): a worker's app leaves out the packages only some requests need, and imports
each when the first of those requests comes: shapely with numpy (setting an area boundary), holidays (a year no
regulator confirmed and chinese_calendar does not cover), psutil (vetting a webhook's address), segno (the
printed form's QR code)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

LATE = ("shapely", "numpy", "holidays", "psutil", "segno")

APP_AND_A_POSITION_FIX = """
import json, sys
from permit_service import create_app
from permit_service.directory.geometry import covers, position_point
create_app()
square = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}
assert covers(square, position_point({"x": 5, "y": 5}))
print(json.dumps(sorted(m for m in %r if m in sys.modules)))
"""


def test_the_app_and_a_position_fix_import_none_of_the_packages_only_some_requests_need(tmp_path):
    env = {
        **os.environ,
        "PERMIT_ENV": "test",
        "JWT_SECRET_KEY": "worker-imports-test-secret-0123456789abcdef",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
    }
    out = subprocess.run(
        [sys.executable, "-c", APP_AND_A_POSITION_FIX % (LATE,)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert json.loads(out.stdout.splitlines()[-1]) == []
