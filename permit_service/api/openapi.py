"""Completes the OpenAPI document flask-smorest generates with what the API's conventions imply for every operation.

The views declare their bodies and answers; the conventions shared by every endpoint (bearer tokens, ETag and
If-Match, Idempotency-Key, problem+json errors, a database that may be away) are added here, once:

- a stable, readable `operationId` derived from the method and the path (`listPermits`, `approvePermit`);
- `If-Match` on a change of a versioned resource (required on PATCH/PUT: 428 without, 412 when stale; optional on
  an action), `Idempotency-Key` on a creating POST that honours it, `If-None-Match` and 304 on a versioned read,
  `Prefer` on a write that answers minimally to `return=minimal` (conventions.honours_prefer);
- the response headers ETag, Location, Idempotent-Replayed, Preference-Applied, Vary and Retry-After;
- the error answers each operation can give, all application/problem+json;
- output schemas list every field as required (the service always writes each one, null where it has no value)
  and stay open to fields added later (no `additionalProperties: false`), a schema shared with an input is split;
- enums are named components, referenced from inputs and outputs alike (nullable ones as `anyOf` with null);
- workflow actions name the roles that may fire them and the rule IDs that may refuse them, per permit type, and
  a permit's `facts` are typed per permit type, all read from the workflow catalogue.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from flask import Flask

from permit_service.api.openapi_schemas import (
    METHODS,
    SCHEMAS,
    camel,
    complete_schemas,
    operations,
    pascal,
    plural,
    singular,
)
from workflows import WORKFLOWS
from workflows.contract import roles_for, rules_for

WORKFLOW_EVENT = "x-workflow-event"  # set by a view that fires a workflow event (permits/views.py)

# Where the path alone does not say what an operation does.
OPERATION_IDS: dict[str, str] = {
    "post /auth/login": "login",
    "post /auth/token": "issueClientToken",
    "post /auth/refresh": "refreshToken",
    "post /auth/logout": "logout",
    "post /auth/password": "changePassword",
    "get /auth/me": "getMe",
    "post /permits/{permit_id}/gas-tests": "recordPermitGasTest",
    "post /permits/{permit_id}/reissue": "reissuePermit",
    "post /jobs/{job_id}/permits": "addJobPermit",
    "delete /jobs/{job_id}/permits/{permit_id}": "removeJobPermit",
    "post /jobs/{job_id}/report": "reportJob",
    "post /enterprises/{enterprise_id}/risk-grade": "gradeEnterpriseRisk",
    "get /freezes/check": "checkFreezes",
    "post /integrations/gas-readings": "ingestGasReadings",
    "post /integrations/positions": "ingestPositions",
    "post /integrations/card-sightings": "ingestCardSightings",
    "post /integrations/alarms": "ingestAlarms",
}
# Versioned answers whose schema does not show the version (the permit's ETag stands for them).
VERSIONED_PATHS = {
    "/permits/{permit_id}/checklist-confirmations",
    "/permits/{permit_id}/form",
    "/permits/{permit_id}/measures",
    "/permits/{permit_id}/measures/{code}/confirmation",
}
UNAUTHENTICATED_401 = {"post /auth/login", "post /auth/token"}  # bad credentials answer 401 there too

HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": "版本标签，修改时放在 If-Match 中 / the version tag; send it back in If-Match to change it",
        "schema": {"type": "string", "example": '"3"'},
    },
    "Location": {
        "description": "新建资源的地址 / the URL of the created resource",
        "schema": {"type": "string"},
    },
    "IdempotentReplayed": {
        "description": "true：重复的 Idempotency-Key，返回的是第一次的答复 / true: a retried Idempotency-Key, "
        "this is the first answer again",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "PreferenceApplied": {
        "description": "return=minimal：按 Prefer 返回了精简答复 / return=minimal: the answer is the minimal one the "
        "Prefer header asked for",
        "schema": {"type": "string", "enum": ["return=minimal"]},
    },
    "VaryPrefer": {
        "description": "答复取决于 Prefer 头 / the answer depends on the Prefer header",
        "schema": {"type": "string", "example": "Prefer"},
    },
    "RetryAfter": {
        "description": "多少秒后再试 / seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    },
}
PARAMETERS: dict[str, dict[str, Any]] = {
    "IfMatchRequired": {
        "name": "If-Match",
        "in": "header",
        "required": True,
        "description": "上次读取的 ETag；缺少为 428，过期为 412 / the ETag last read: 428 without it, 412 when stale",
        "schema": {"type": "string"},
    },
    "IfMatch": {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "description": "可选：上次读取的 ETag，过期为 412，不是版本标签为 428 / optional: the ETag last read, 412 "
        "when stale, 428 when it names no version",
        "schema": {"type": "string"},
    },
    "IfNoneMatch": {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": "已有的 ETag；未变化时答复 304 / the ETag you hold: 304 when unchanged",
        "schema": {"type": "string"},
    },
    "Prefer": {
        "name": "Prefer",
        "in": "header",
        "required": False,
        "description": "RFC 7240：return=minimal 只返回精简答复（状态码、ETag、Location 不变，带 Preference-Applied）；"
        "不带或 return=representation 返回完整的答复 / RFC 7240: return=minimal answers the minimal schema (the same "
        "status, ETag and Location, with Preference-Applied) and skips the work the whole answer needs; without it "
        "or with return=representation the whole answer",
        "schema": {"type": "string", "examples": ["return=minimal", "return=representation"]},
    },
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "重试安全：同一键返回第一次的答复（请求体不同为 422）/ retries are safe: one key answers "
        "the first answer again (422 with another body)",
        "schema": {"type": "string", "maxLength": 200},
    },
}
ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "请求体不是合法的 JSON / the body is not valid JSON"),
    401: ("Unauthorized", "未认证、令牌无效或凭据错误 / no token, an invalid token or wrong credentials"),
    403: ("Forbidden", "角色不允许 / the caller's roles do not allow it"),
    404: ("NotFound", "不存在或属于其他企业 / absent, or another tenant's"),
    409: (
        "Conflict",
        "规则或当前状态拒绝（rule 为规则编号）/ a rule or the current state refuses it (see `rule`)",
    ),
    412: ("PreconditionFailed", "If-Match 版本已过期 / the If-Match version is stale"),
    413: ("ContentTooLarge", "请求体过大 / the body is too large"),
    415: ("UnsupportedMediaType", "请求体须为 JSON / the body must be application/json"),
    422: ("UnprocessableContent", "字段校验失败，errors 逐项列出 / invalid fields, each listed in `errors`"),
    428: ("PreconditionRequired", "缺少 If-Match / If-Match is missing"),
    429: ("TooManyRequests", "尝试过多，见 Retry-After / too many attempts, see Retry-After"),
    503: (
        "ServiceUnavailable",
        "数据库暂不可用，见 Retry-After / the database is unavailable, see Retry-After",
    ),
}


def complete(spec: dict[str, Any], app: Flask) -> dict[str, Any]:
    """The document with every convention of the API spelt out (see the module docstring)."""
    spec = copy.deepcopy(spec)
    components = spec.setdefault("components", {})
    complete_schemas(spec)
    components.setdefault("headers", {}).update(copy.deepcopy(HEADERS))
    components.setdefault("parameters", {}).update(copy.deepcopy(PARAMETERS))
    responses = components.setdefault("responses", {})
    for status, (name, description) in ERRORS.items():
        responses[name] = _problem(description, status)
    responses.pop("UNPROCESSABLE_ENTITY", None)
    responses.pop("TOO_MANY_REQUESTS", None)
    responses.pop("NOT_FOUND", None)
    idempotent = _marked_operations(app, "idempotent")
    prefer = _marked_operations(app, "honours_prefer")
    for path, method, operation in operations(spec):
        key = f"{method} {path.removeprefix('/api/v1')}"
        operation["operationId"] = OPERATION_IDS.get(key) or operation_id(
            method, path.removeprefix("/api/v1")
        )
        _complete_operation(
            spec,
            key,
            method,
            operation,
            idempotent=operation["operationId"] in idempotent,
            prefer=operation["operationId"] in prefer,
            path_parameters=spec["paths"][path].get("parameters", []),
        )
    return spec


def operation_id(method: str, path: str) -> str:
    """A readable camelCase id from the method and the path: GET /permits -> listPermits, POST .../approve ->
    approvePermit, GET /enterprises/{id}/areas -> listEnterpriseAreas."""
    segments = [s for s in path.strip("/").split("/") if s]
    literals = [s for s in segments if not s.startswith("{")]
    on_item = segments[-1].startswith("{")
    last = literals[-1]
    if (
        method == "post"
        and not on_item
        and len(segments) > 1
        and segments[-2].startswith("{")
        and not plural(last)
    ):
        return camel(last) + pascal(*map(singular, literals[:-1]))  # an action on an item: approvePermit
    nouns = [*map(singular, literals[:-1]), last if not on_item else singular(last)]
    if method == "get":
        verb = "get" if on_item or not plural(last) else "list"
    else:
        verb = {"post": "create", "put": "set", "patch": "update", "delete": "delete"}[method]
        if method == "post":
            nouns[-1] = singular(last)
    return verb + pascal(*nouns)


def _marked_operations(app: Flask, mark: str) -> set[str]:
    """operationIds of views wrapped by a convention that marks its wrapper (idempotent, honours_prefer)."""
    marked: set[str] = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        view_class = getattr(view, "view_class", None)
        for method in {m.lower() for m in rule.methods or ()} & set(METHODS):  # not HEAD nor OPTIONS
            handler = getattr(view_class, method, None) if view_class else view
            if getattr(handler, mark, False):
                path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule).removeprefix("/api/v1")
                marked.add(OPERATION_IDS.get(f"{method} {path}") or operation_id(method, path))
    return marked


def _problem(description: str, status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": SCHEMAS + "Problem"}}},
    }
    if status in (429, 503):
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


def _schemas_of(spec: dict[str, Any], response: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON schemas of a success response (each alternative of an anyOf), references resolved one level."""
    for media in response.get("content", {}).values():
        schema = media.get("schema", {})
        return [
            spec["components"]["schemas"].get(one["$ref"].removeprefix(SCHEMAS), {}) if "$ref" in one else one
            for one in schema.get("anyOf", [schema])
        ]
    return []


def _complete_operation(
    spec: dict[str, Any],
    key: str,
    method: str,
    operation: dict[str, Any],
    *,
    idempotent: bool,
    prefer: bool,
    path_parameters: list[dict[str, Any]],
) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("default", None)
    success = [r for code, r in responses.items() if code.startswith("2") and "$ref" not in r]
    versioned = key.split(" ", 1)[1] in VERSIONED_PATHS or any(
        "version" in schema.get("properties", {}) for r in success for schema in _schemas_of(spec, r)
    )
    parameters = operation.setdefault("parameters", [])
    errors: set[int] = {503}
    if operation.get("security") != []:
        errors |= {401, 403}
    elif key in UNAUTHENTICATED_401:
        errors.add(401)
    if "{" in key or any(p.get("name", "").endswith("_id") for p in parameters if "$ref" not in p):
        errors.add(404)  # a path's or a filter's id that is absent or another tenant's
    if any(p.get("schema", {}).get("format") != "uuid" for p in path_parameters):
        errors.add(422)  # a path segment the view parses (a day, a kind) is checked like any field
    if "requestBody" in operation:
        errors |= {400, 413, 415, 422}
    if any(p.get("in") == "query" for p in parameters if "$ref" not in p):
        errors.add(422)
    if method != "get" and operation.get("security") != []:
        errors |= {409, 422}  # the state refuses it, or the service finds a value wrong in context
    if versioned and method in ("put", "patch"):
        parameters.append({"$ref": "#/components/parameters/IfMatchRequired"})
        errors |= {412, 428}
    elif versioned and method in ("post", "delete") and "{" in key and not any(c == "201" for c in responses):
        parameters.append({"$ref": "#/components/parameters/IfMatch"})
        errors |= {412, 428}  # 428: an If-Match that names no version
    if idempotent:
        parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
        errors.add(422)
    if prefer:
        parameters.append({"$ref": "#/components/parameters/Prefer"})
    if versioned and method == "get":
        parameters.append({"$ref": "#/components/parameters/IfNoneMatch"})
        responses["304"] = {
            "description": "未变化（If-None-Match 与当前 ETag 相同）/ not modified: If-None-Match names the current ETag",
            "headers": {"ETag": {"$ref": "#/components/headers/ETag"}},
        }
    errors |= {int(code) for code in responses if code in ("404", "429")}  # declared by the view itself
    for code, response in responses.items():
        if code.startswith("2") and "$ref" not in response:
            headers = response.setdefault("headers", {})
            if versioned and code != "204":
                headers["ETag"] = {"$ref": "#/components/headers/ETag"}
            if code == "201":
                headers["Location"] = {"$ref": "#/components/headers/Location"}
            if idempotent:
                headers["Idempotent-Replayed"] = {"$ref": "#/components/headers/IdempotentReplayed"}
            if prefer:
                headers["Preference-Applied"] = {"$ref": "#/components/headers/PreferenceApplied"}
                headers["Vary"] = {"$ref": "#/components/headers/VaryPrefer"}
            if not headers:
                del response["headers"]
    for status in sorted(errors):
        responses[str(status)] = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
    if not parameters:
        del operation["parameters"]
    event = operation.pop(WORKFLOW_EVENT, None)
    if event:
        _describe_event(operation, event)


def _describe_event(operation: dict[str, Any], event: str) -> None:
    """Who may fire the event and which rules may refuse it, per permit type, from the workflow catalogue."""
    by_type = {
        permit_type: {"roles": roles_for(workflow, event), "rules": rules_for(workflow, event)}
        for permit_type, workflow in WORKFLOWS.items()
        if event in workflow.catalogue()["events"]
    }
    lines = [
        f"- `{permit_type}`: roles {', '.join(entry['roles']) or '(system)'}; "
        f"rules {', '.join(entry['rules']) or '(none besides STATE and ROLE)'}"
        for permit_type, entry in by_type.items()
    ]
    operation["description"] = (
        f"{operation.get('description', '').strip()}\n\n"
        "可执行的角色与可能拒绝的规则（按作业类型；403 为角色不符，409 的 `rule` 为规则编号，STATE 为状态不符）/ "
        "Roles that may fire it and rule IDs that may refuse it, by permit type (403: the caller's role; "
        "409: `rule` names the rule, STATE the wrong state):\n\n" + "\n".join(lines)
    ).strip()
    operation["x-permit-types"] = by_type
