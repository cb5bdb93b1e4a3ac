"""No body makes the service answer 500: nesting, huge integers and non-finite numbers are 400 problems, on every
way a body is read (webargs, request.get_json, the Idempotency-Key fingerprint), and nothing is stored; text
refuses control characters, and a one-line field (every string but the free text) line breaks and tabs too."""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from marshmallow import ValidationError, fields

import permit_service
from permit_service.api.fields import StrictSchema
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


def test_control_characters_deep_in_a_body_are_named_by_their_path(client, factory, db_session):
    """The outermost schema checks the whole body once (StrictSchema.load); its nested schemas' fields are covered."""
    flow = PermitFlow(client, factory, factory.world())
    body = flow.body("hot_work")
    body["measures"].append({"text": "补焊\x07"})
    body["crew"][0]["role"] = "\x1b[2J"
    problem = assert_problem(client.post(API, json=body, headers=flow.headers("applicant")), 422)
    assert set(problem["errors"]) == {f"measures.{len(body['measures']) - 1}.text", "crew.0.role"}
    assert all("控制字符" in messages[0] for messages in problem["errors"].values())
    assert _count(db_session, Permit) == 0


# Line feed, carriage return, tab and the Unicode line separator: text, but not in a one-line field.
LINE_BREAKS = pytest.mark.parametrize(
    "text", ["补焊\n二次", "补焊\r", "补焊\t二次", "补焊\u2028二次"], ids=["LF", "CR", "TAB", "LS"]
)


@LINE_BREAKS
def test_one_line_fields_refuse_line_breaks_and_tabs_and_nothing_is_stored(client, factory, db_session, text):
    flow = PermitFlow(client, factory, factory.world())
    body = flow.body("hot_work", title=text, location=text, work_unit=text)
    body["measures"].append({"text": text})
    problem = assert_problem(
        client.post(API, json=body, headers=flow.headers("applicant")),
        422,
        fields={"title", "location", "work_unit", f"measures.{len(body['measures']) - 1}.text"},
    )
    assert "单行" in problem["errors"]["title"][0] and "one line" in problem["errors"]["title"][0]
    assert _count(db_session, Permit) == 0


@LINE_BREAKS
def test_a_text_fact_is_one_line_but_a_plan_and_nothing_is_stored(client, factory, db_session, text):
    flow = PermitFlow(client, factory, factory.world())
    facts = {**flow.body("hot_work")["facts"], "space_id": text}
    body = flow.body("hot_work", facts=facts)
    problem = assert_problem(
        client.post(API, json=body, headers=flow.headers("applicant")), 422, fields={"facts.space_id"}
    )
    assert "单行" in problem["errors"]["facts.space_id"][0]
    assert _count(db_session, Permit) == 0
    planned = flow.body("hot_work", facts={**facts, "space_id": "T-101", "written_plan": text})
    assert client.post(API, json=planned, headers=flow.headers("applicant")).status_code == 201


@LINE_BREAKS
def test_a_reason_and_a_query_are_one_line(client, factory, text):
    flow = PermitFlow(client, factory, factory.world()).file("hot_work").to_active()
    assert_problem(flow.attempt("suspend", {"reason": text}, by="guardian"), 422, fields={"reason"})
    assert flow.reload().state == "active"
    listed = client.get(API, query_string={"number": text}, headers=flow.headers("applicant"))
    assert_problem(listed, 422, fields={"number"})


def test_free_text_keeps_tabs_and_line_breaks_in_every_multi_line_field(client, factory):
    flow = PermitFlow(client, factory, factory.world())
    text = "1. 可燃气体泄漏\r\n2.\t火花飞溅\u20283. 高处坠落"
    resp = client.post(
        API,
        json=flow.body("hot_work", risk_analysis=text, work_content=text),
        headers=flow.headers("applicant"),
    )
    assert resp.status_code == 201, resp.get_json()
    assert (resp.get_json()["risk_analysis"], resp.get_json()["work_content"]) == (text, text)
    flow.permit = resp.get_json()
    submitted = flow.attempt("submit", {"comment": text}, by="applicant")
    assert submitted.status_code == 200, submitted.get_json()


# The multi-line free text of the service (Text fields): every other string a request carries is one line.
MULTI_LINE = {
    *((body, "comment") for body in ("ActionBody", "AcceptBody", "ActivateBody", "ApproveBody", "BriefBody")),
    *((body, "comment") for body in ("CountersignBody", "ReasonBody", "ResumeBody", "GasTestIn")),
    ("ReasonBody", "found_object"),
    ("ResumeBody", "found_object_disposal"),
    *(
        (schema, name)
        for schema in ("PermitCreate", "PermitUpdate")
        for name in ("work_content", "risk_analysis")
    ),
    *((schema, name) for schema in ("JobIn", "JobPatch") for name in ("description", "risk_analysis")),
}


def _schemas(cls: type = StrictSchema) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _schemas(sub)


def test_only_the_free_text_fields_of_every_schema_take_a_line_break():
    for module in pkgutil.walk_packages(permit_service.__path__, "permit_service."):
        importlib.import_module(module.name)
    taking = set()
    for cls in set(_schemas()):
        schema = cls()
        for name, field in schema.load_fields.items():
            inner = field.inner if isinstance(field, fields.List) else field
            if not isinstance(inner, fields.String) or isinstance(inner, fields.UUID):
                continue
            key = field.data_key or name
            value = "第一行\n第二行"
            try:
                schema.load({key: [value] if inner is not field else value}, partial=True)
            except ValidationError as refused:
                assert key in refused.messages, (cls.__name__, key, refused.messages)
                continue
            taking.add((cls.__name__, key))
    assert taking == MULTI_LINE
