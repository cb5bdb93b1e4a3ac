"""Every error a caller can cause, answered as RFC 9457 `application/problem+json` in Chinese and English."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from json import JSONDecodeError
from typing import Any

from flask import Flask, Response, g, json, request
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from workflows.rules import RuleViolation
from workflows.vocabulary import plain_zh

PROBLEM_MIME = "application/problem+json"
DATABASE_RETRY_AFTER_SECONDS = 5  # what a 503 for an unavailable database tells the client to wait
ROLE_RULE = "ROLE"  # the core's pseudo-rule: the action exists, but not for the caller's roles
log = logging.getLogger(__name__)

# Bilingual titles for the HTTP errors Flask and its extensions raise on their own.
HTTP_MESSAGES: dict[int, tuple[str, str]] = {
    400: ("请求格式错误", "The request is malformed"),
    401: ("未认证或令牌无效", "Authentication is missing or the token is invalid"),
    403: ("无权执行此操作", "You are not allowed to do this"),
    404: ("资源不存在", "The resource does not exist"),
    405: ("不支持该请求方法", "The method is not allowed on this resource"),
    406: ("无法提供所要求的格式", "The requested representation is not available"),
    409: ("与当前状态冲突", "The request conflicts with the current state"),
    412: ("版本已过期，请重新读取后再试", "The resource changed since you read it; read it again"),
    413: ("请求体过大", "The request body is too large"),
    414: ("请求行（URL）过长", "The request line (URL) is too long"),
    417: ("无法满足 Expect 头的要求", "The Expect header cannot be met"),
    415: ("请求体须为 JSON", "The request body must be JSON"),
    422: ("请求数据校验失败", "The request data is invalid"),
    428: ("缺少 If-Match 头", "This change needs an If-Match header"),
    429: ("请求过于频繁", "Too many requests"),
    431: ("请求头过多或过大", "The request header fields are too many or too large"),
    500: ("服务器内部错误", "Internal server error"),
    501: ("不支持该传输编码", "The transfer coding is not supported"),
    503: ("服务暂不可用", "Service unavailable"),
}


class Problem(Exception):
    """An error answered as problem+json; subclasses fix the status."""

    status = 400
    slug = "bad-request"

    def __init__(
        self,
        zh: str | None = None,
        en: str | None = None,
        *,
        rule: str | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        if status is not None:
            self.status = status
        default_zh, default_en = HTTP_MESSAGES.get(self.status, ("请求失败", "Request failed"))
        self.zh = plain_zh(zh or default_zh)
        self.en = en or default_en
        self.rule = rule
        self.headers = dict(headers or {})
        self.extra = extra
        super().__init__(self.en)


class BadRequest(Problem):
    """400."""


class InvalidJSON(Problem):
    """400: the body is not JSON the service takes (past a nesting, digit or finiteness limit)."""

    slug = "invalid-json"

    def __init__(self, **extra: Any) -> None:
        super().__init__("请求体不是可接受的 JSON", "The request body is not acceptable JSON", **extra)


class Unauthorized(Problem):
    """401: no token, a bad token, or bad credentials."""

    status = 401
    slug = "unauthorized"


class Forbidden(Problem):
    """403: authenticated but not allowed."""

    status = 403
    slug = "forbidden"


class NotFound(Problem):
    """404: absent, or belongs to another tenant (never say which)."""

    status = 404
    slug = "not-found"


class Conflict(Problem):
    """409: a rule or the current state refuses the request."""

    status = 409
    slug = "conflict"


class PreconditionFailed(Problem):
    """412: the If-Match version is stale."""

    status = 412
    slug = "stale-version"


class TooManyRequests(Problem):
    """429: too many attempts; the `Retry-After` header says when to try again."""

    status = 429
    slug = "too-many-requests"


class PreconditionRequired(Problem):
    """428: a change without If-Match."""

    status = 428
    slug = "precondition-required"


class ValidationProblem(Problem):
    """422: invalid fields, every one listed."""

    status = 422
    slug = "validation"

    def __init__(self, errors: Mapping[str, Any], zh: str | None = None, en: str | None = None, **kw: Any):
        super().__init__(zh, en, errors=dict(errors), **kw)


def problem_response(
    status: int,
    *,
    zh: str,
    en: str,
    slug: str,
    rule: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Build the problem+json response."""
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": en,
        "status": status,
        "detail": f"{zh} / {en}",
        "message_zh": zh,
        "message_en": en,
        "instance": request.path if request else None,
    }
    if rule:
        body["rule"] = rule
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    text = json.dumps(body, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:  # lone surrogates echoed from the request: escape rather than fail
        text = json.dumps(body, ensure_ascii=True)
    resp = Response(text, status=status, mimetype=PROBLEM_MIME)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def violation_response(exc: RuleViolation) -> Response:
    """409 for a refused workflow action (403 when only the caller's role is wrong), with every violation."""
    first = exc.violations[0]
    role_only = all(v.rule_id == ROLE_RULE for v in exc.violations)
    return problem_response(
        403 if role_only else 409,
        zh=first.zh,
        en=first.en,
        slug="rule-violation",
        rule=first.rule_id,
        violations=[{"rule": v.rule_id, "message_zh": v.zh, "message_en": v.en} for v in exc.violations],
        allowed_actions=list(exc.allowed_actions) if exc.allowed_actions is not None else None,
    )


# marshmallow's messages are English; each gets its Chinese in front ("中文 / English").
_ZH_TYPES = {
    "string": "字符串",
    "integer": "整数",
    "number": "数值",
    "boolean": "布尔值 true/false",
    "UUID": "UUID",
    "date": "日期 YYYY-MM-DD",
    "datetime": "带时区的 ISO 8601 时间",
    "list": "数组",
    "mapping type": "对象",
}
_ZH_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), zh)
    for pattern, zh in (
        (r"Missing data for required field\.", "必填"),
        (r"Unknown field\.", "不允许的字段"),
        (r"Field may not be null\.", "不能为 null"),
        (r"Not a valid (.+)\.", "须为{type}"),
        (r"Invalid (input )?type\.", "须为 JSON 对象"),
        (r"Shorter than minimum length (\S+)\.", "长度至少为 {0}"),
        (r"Longer than maximum length (\S+)\.", "长度至多为 {0}"),
        (r"Length must be between (\S+) and (\S+)\.", "长度须在 {0} 到 {1} 之间"),
        (r"Length must be (\S+)\.", "长度须为 {0}"),
        (r"Must be greater than or equal to (\S+) and less than or equal to (\S+)\.", "须在 {0} 到 {1} 之间"),
        (r"Must be greater than or equal to (\S+)\.", "须不小于 {0}"),
        (r"Must be less than or equal to (\S+)\.", "须不大于 {0}"),
        (r"Must be greater than (\S+)\.", "须大于 {0}"),
        (r"Must be less than (\S+)\.", "须小于 {0}"),
        (r"Must be one of: (.+)\.", "须为以下之一：{0}"),
        (r"String does not match expected pattern\.", "格式不正确"),
        (r"Number too large\.", "数值过大"),
        (r"Special numeric values \(nan or infinity\) are not permitted\.", "不允许 NaN 或无穷大"),
        (r"Invalid value\.", "值无效"),
    )
)


def bilingual(message: str) -> str:
    """A validation message in Chinese and English (messages we wrote are bilingual already)."""
    for pattern, zh in _ZH_MESSAGES:
        match = pattern.fullmatch(message)
        if match:
            groups = match.groups()
            if "{type}" in zh:
                return f"{zh.format(type=_ZH_TYPES.get(groups[0], groups[0]))} / {message}"
            return f"{zh.format(*groups)} / {message}"
    return message


def _flatten_field_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs nests errors by field (and list index); callers want `field.path: [messages]`."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, Mapping):
                out.update(_flatten_field_errors(value, name))
            else:
                items = value if isinstance(value, Iterable) and not isinstance(value, str) else [value]
                for item in items:
                    if isinstance(item, Mapping):
                        out.update(_flatten_field_errors(item, name))
                    else:
                        out.setdefault(name, []).append(bilingual(str(item)))
    elif messages:
        out[prefix or "_schema"] = [bilingual(str(messages))]
    return out


_LOCATIONS = frozenset({"json", "query", "querystring", "headers", "files", "form", "path", "view_args"})


def _merge_locations(errors: Mapping[str, Any]) -> Mapping[str, Any]:
    # webargs keys errors by location ("json", "query", ...); the caller named the field, not the location,
    # so fields are listed by name, with the location in front only when two locations share a name.
    if not errors or not set(errors) <= _LOCATIONS:
        return errors
    merged: dict[str, Any] = {}
    for location, value in errors.items():
        if not isinstance(value, Mapping):
            merged[location] = value
            continue
        for field, messages in value.items():
            merged[f"{location}.{field}" if field in merged else field] = messages
    return merged


def _invalid_json(error: HTTPException) -> Response | None:
    """400 naming where the body stops being JSON (webargs or Flask found it unparsable)."""
    exc = getattr(error, "exc", None)  # webargs attaches the parser's exception here
    if isinstance(exc, JSONDecodeError):
        where = f"第 {exc.lineno} 行第 {exc.colno} 列 / line {exc.lineno} column {exc.colno}: {exc.msg}"
    elif isinstance(exc, UnicodeDecodeError):
        where = "不是 UTF-8 编码 / not UTF-8 encoded"
    elif isinstance(error.description, str) and "JSON" in error.description:
        where = "无法解析 / cannot be parsed"
    else:
        return None
    return problem_response(
        400,
        zh="请求体不是合法的 JSON",
        en="The request body is not valid JSON",
        slug="invalid-json",
        errors={"body": [where]},
    )


def http_exception_response(error: HTTPException) -> Response:
    """Turn any werkzeug / flask-smorest HTTPException into problem+json."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    if status == 400:
        invalid = _invalid_json(error)
        if invalid is not None:
            return invalid
    zh, en = HTTP_MESSAGES.get(status, ("请求失败", error.name or "Error"))
    errors = data.get("errors") or data.get("messages")
    extra: dict[str, Any] = {}
    if errors:
        extra["errors"] = _flatten_field_errors(_merge_locations(errors))
    headers = dict(data.get("headers") or {})
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    slug = "validation" if status == 422 else f"http-{status}"
    return problem_response(status, zh=zh, en=en, slug=slug, headers=headers, **extra)


def register_error_handlers(app: Flask) -> None:
    """Route every exception the app can meet to a problem+json answer."""

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return problem_response(
            exc.status, zh=exc.zh, en=exc.en, slug=exc.slug, rule=exc.rule, headers=exc.headers, **exc.extra
        )

    @app.errorhandler(RuleViolation)
    def _violation(exc: RuleViolation) -> Response:
        return violation_response(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        return http_exception_response(exc)

    @app.errorhandler(StaleDataError)
    def _stale(_exc: StaleDataError) -> Response:
        # A concurrent writer changed the row between our read and our write.
        zh, en = HTTP_MESSAGES[412]
        return problem_response(412, zh=zh, en=en, slug=PreconditionFailed.slug)

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError) -> Response:
        # A uniqueness race the service's own checks could not see (two requests creating the same thing).
        log.warning("integrity error answered 409: %s", exc.orig)
        return problem_response(
            409, zh="与已有数据冲突", en="The request conflicts with existing data", slug=Conflict.slug
        )

    @app.errorhandler(DataError)
    def _unstorable(exc: DataError) -> Response:
        # A value the schema let through but the column cannot hold (a number out of the column's range).
        log.warning("data error answered 422: %s", exc.orig)
        return problem_response(
            422,
            zh="数据超出可存储的范围",
            en="A value is out of the range that can be stored",
            slug=ValidationProblem.slug,
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _database_unavailable(exc: Exception) -> Response:
        # The database is down, unreachable, locked past the busy timeout or out of connections: try again.
        log.error("database unavailable, answered 503: %s", exc)
        return problem_response(
            503,
            zh="数据库暂不可用，请稍后重试",
            en="The database is unavailable; try again shortly",
            slug="database-unavailable",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        zh, en = HTTP_MESSAGES[500]
        return problem_response(500, zh=zh, en=en, slug="internal")
