"""psycopg converts each statement the app repeats once, however long (permit_service.db._convert_statements_once).

psycopg keeps the conversion of a statement's %(name)s placeholders only for texts of at most 4,096 characters and
50 parameters by default; an action's writes with its feed numbering are longer, and were parsed again on every run
(issue 14).
"""

from __future__ import annotations

import pytest
from psycopg import _queries as queries

from permit_service import db

pytestmark = pytest.mark.postgres_only


def test_a_statement_longer_than_psycopgs_default_bounds_is_converted_once(engine) -> None:
    parameters = {f"p{i}": i for i in range(db.MAX_CACHED_PARAMETERS)}
    listed = ", ".join(f"%(p{i})s::int AS c{i}" for i in range(db.MAX_CACHED_PARAMETERS))
    query = f"SELECT {listed} -- {'permit ' * 800}"
    assert len(query) > 4096 and len(parameters) > 50
    assert len(query) <= db.PSYCOPG_CACHED_STATEMENT_LENGTH
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.execute(query, parameters)
        before = queries._query2pg.cache_info().hits
        cursor.execute(query, parameters)
        assert cursor.fetchone()[-1] == db.MAX_CACHED_PARAMETERS - 1
        assert queries._query2pg.cache_info().hits == before + 1
