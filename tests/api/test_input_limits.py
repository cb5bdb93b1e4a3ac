"""No body makes the service answer 500: nesting, huge integers and non-finite numbers are 400 problems, on every
way a body is read (webargs, request.get_json, the Idempotency-Key fingerprint), and nothing is stored."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from permit_service.api.safe_json import MAX_DEPTH
from permit_service.integrations.models import IngestBatch
from permit_service.permits.models import Permit
from tests.api.checks import assert_problem
from tests.api.permit_flows import API, PermitFlow
from tests.plant import portal

LOGIN = "/api/v1/auth/login"
JSON = "application/json"

# (name, raw JSON value placed where a field's value goes)
BAD_VALUES = [
    ("nested-1000", "[" * 1000 + "]" * 1000),
    ("nested-past-the-limit", "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)),
    ("integer-4301-digits", "9" * 4301),
    ("integer-past-int64", str(2**63)),
    ("negative-integer-past-int64", str(-(2**63) - 1)),
    ("NaN", "NaN"),
    ("Infinity", "Infinity"),
    ("minus-Infinity", "-Infinity"),
    ("1e400", "1e400"),
    ("minus-1e400", "-1e400"),
]
bad_values = pytest.mark.parametrize(
    "raw", [raw for _, raw in BAD_VALUES], ids=[name for name, _ in BAD_VALUES]
)


def _count(db_session, model) -> int:
    count = db_session.scalar(sa.select(sa.func.count()).select_from(model))
    db_session.commit()  # SQLite: release the read snapshot
    return count


def _with_raw(body: dict, path: tuple[str, ...], raw: str) -> str:
    """`body` as JSON text with the value at `path` replaced by `raw` (text json.dumps cannot produce)."""
    marker = "__RAW_VALUE__"
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = marker
    return json.dumps(body, ensure_ascii=False).replace(f'"{marker}"', raw)


def _refused(resp) -> dict:
    problem = assert_problem(resp, 400)
    assert problem["type"] == "/problems/invalid-json"
    assert problem["errors"]["body"]
    return problem


@bad_values
def test_a_login_body_past_the_json_limits_is_400(client, raw):
    _refused(
        client.post(
            LOGIN, data=_with_raw({"username": "u", "password": "p"}, ("password",), raw), content_type=JSON
        )
    )


@bad_values
def test_a_permit_with_facts_past_the_json_limits_is_400_and_nothing_is_stored(
    client, factory, db_session, raw
):
    flow = PermitFlow(client, factory, factory.world())
    body = _with_raw(flow.body("height", facts={"wind_level": 3}), ("facts", "wind_level"), raw)
    _refused(client.post(API, data=body, content_type=JSON, headers=flow.headers("applicant")))
    _refused(
        client.post(
            API, data=body, content_type=JSON, headers=flow.headers("applicant", **{"Idempotency-Key": "k-1"})
        )
    )
    assert _count(db_session, Permit) == 0


@bad_values
def test_a_pushed_batch_past_the_json_limits_is_400_and_nothing_is_stored(client, factory, db_session, raw):
    gate = portal(factory, factory.world())
    body = _with_raw({"readings": [{"value": 1}]}, ("readings", 0, "value"), raw)
    resp = client.post(
        "/api/v1/integrations/gas-readings", data=body, content_type=JSON, headers=gate.push("b-1")
    )
    _refused(resp)
    assert _count(db_session, IngestBatch) == 0


def test_a_body_at_the_limits_is_read(client):
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    body = _with_raw({"username": "u", "password": "p", "n": 9}, ("n",), str(2**63 - 1))
    assert_problem(client.post(LOGIN, data=body, content_type=JSON), 422, fields={"n"})
    deep = _with_raw({"username": "u", "password": "p"}, ("password",), nested)
    assert_problem(client.post(LOGIN, data=deep, content_type=JSON), 422, fields={"password"})


@pytest.mark.parametrize(
    "text",
    ["补焊\x07", "\x1b[2J清屏", "NUL\x00", "DEL\x7f", "C1\x9b", "垂直\x0b制表"],
    ids=["BEL", "ESC", "NUL", "DEL", "CSI", "VT"],
)
def test_text_with_control_characters_is_422_and_nothing_is_stored(client, factory, db_session, text):
    flow = PermitFlow(client, factory, factory.world())
    body = flow.body("hot_work", title=text)
    problem = assert_problem(
        client.post(API, json=body, headers=flow.headers("applicant")), 422, fields={"title"}
    )
    assert "控制字符" in problem["errors"]["title"][0]
    assert _count(db_session, Permit) == 0


def test_free_text_keeps_tabs_and_line_breaks(client, factory):
    flow = PermitFlow(client, factory, factory.world())
    analysis = "1. 可燃气体泄漏\r\n2.\t火花飞溅"
    resp = client.post(
        API, json=flow.body("hot_work", risk_analysis=analysis), headers=flow.headers("applicant")
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["risk_analysis"] == analysis
