"""A PostgreSQL result's description is psycopg's, its columns built where read (permit_service.db._Description).

SQLAlchemy asks each result for its description and, for a statement it has run before, reads none of it; the
columns are built only for a reader that asks (issue 14).
"""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres_only

QUERY = "SELECT 1 AS n, '作业票'::text AS 名称, now() AS at, NULL::numeric(6, 2) AS limit_value"


def test_a_description_reads_as_psycopgs_own(engine) -> None:
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        ours = raw.cursor()
        plain = psycopg.Cursor(raw)
        ours.execute(QUERY)
        plain.execute(QUERY)
        described, expected = ours.description, plain.description
        assert len(described) == len(expected) == 4
        assert [tuple(c) for c in described] == [tuple(c) for c in expected]
        assert [c.name for c in described] == ["n", "名称", "at", "limit_value"]
        assert tuple(described[-1]) == tuple(expected[-1])
        assert [tuple(c) for c in described[1:3]] == [tuple(c) for c in expected[1:3]]
        with pytest.raises(IndexError):
            described[4]


def test_a_description_keeps_its_result_when_the_cursor_moves_on(engine) -> None:
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.execute(QUERY)
        described = cursor.description
        cursor.execute("SELECT 2 AS other")
        assert [c.name for c in described] == ["n", "名称", "at", "limit_value"]
        assert [c.name for c in cursor.description] == ["other"]


def test_statements_without_rows_describe_nothing_and_sqlalchemy_reads_results_by_name(engine) -> None:
    with engine.begin() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.execute("SET LOCAL statement_timeout = 0")
        assert cursor.description is None
        for _ in range(
            2
        ):  # the second time from SQLAlchemy's cached metadata, without the description's columns
            row = conn.execute(sa.text(QUERY)).one()
            assert (row.n, row._mapping["名称"]) == (1, "作业票")
