"""Every PostgreSQL session of the service runs in UTC, whatever the server's TimeZone (permit_service.db).

Times are stored in UTC and shown in Asia/Shanghai; a session in the server's zone would hand every timestamptz
back in that zone, converted to UTC again value by value (issue 14).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from permit_service import db

pytestmark = pytest.mark.postgres_only


def test_a_session_is_in_utc_even_on_a_server_set_to_shanghai(database_url: str) -> None:
    # The server's zone as a deployment in China may set it: libpq's startup options stand in for postgresql.conf.
    shanghai = sa.make_url(database_url).update_query_dict({"options": "-c TimeZone=Asia/Shanghai"})
    engine = db.make_engine(shanghai.render_as_string(hide_password=False))
    stored = datetime(2026, 12, 6, 1, 30, tzinfo=UTC)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW TimeZone")).scalar_one() == "UTC"
            read = conn.execute(sa.select(sa.literal(stored, db.UTCDateTime()))).scalar_one()
            midnight = conn.execute(sa.text("SELECT '2026-12-06 00:00'::timestamptz")).scalar_one()
    finally:
        engine.dispose()
    assert read == stored and read.tzinfo is UTC
    assert midnight == datetime(
        2026, 12, 6, tzinfo=UTC
    )  # a zoneless literal is read as UTC, not as Beijing time
