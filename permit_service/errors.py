"""Every error a caller can cause, answered as RFC 9457 `application/problem+json` in Chinese and English."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, Response, g, json, request
from werkzeug.exceptions import HTTPException

from workflows.rules import RuleViolation

PROBLEM_MIME = "application/problem+json"
log = logging.getLogger(__name__)

# Bilingual titles for the HTTP errors Flask and its extensions raise on their own.
_HTTP_MESSAGES: dict[int, tuple[str, str]] = {
    400: ("请求格式错误", "The request is malformed"),
    401: ("未认证或令牌无效", "Authentication is missing or the token is invalid"),
    403: ("无权执行此操作", "You are not allowed to do this"),
    404: ("资源不存在", "The resource does not exist"),
    405: ("不支持该请求方法", "The method is not allowed on this resource"),
    406: ("无法提供所要求的格式", "The requested representation is not available"),
    409: ("与当前状态冲突", "The request conflicts with the current state"),
    412: ("版本已过期，请重新读取后再试", "The resource changed since you read it; read it again"),
    413: ("请求体过大", "The request body is too large"),
    415: ("请求体须为 JSON", "The request body must be JSON"),
    422: ("请求数据校验失败", "The request data is invalid"),
    428: ("缺少 If-Match 头", "This change needs an If-Match header"),
    429: ("请求过于频繁", "Too many requests"),
    500: ("服务器内部错误", "Internal server error"),
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
        default_zh, default_en = _HTTP_MESSAGES.get(self.status, ("请求失败", "Request failed"))
        self.zh = zh or default_zh
        self.en = en or default_en
        self.rule = rule
        self.headers = dict(headers or {})
        self.extra = extra
        super().__init__(self.en)


class BadRequest(Problem):
    """400."""


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
    resp = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_MIME)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def violation_response(exc: RuleViolation) -> Response:
    """409 for a refused workflow action: the first rule, every violation and what the caller may do instead."""
    first = exc.violations[0]
    return problem_response(
        409,
        zh=first.zh,
        en=first.en,
        slug="rule-violation",
        rule=first.rule_id,
        violations=[{"rule": v.rule_id, "message_zh": v.zh, "message_en": v.en} for v in exc.violations],
        allowed_actions=list(exc.allowed_actions) if exc.allowed_actions is not None else None,
    )


def _flatten_field_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs nests errors by location and field; callers want `field.path: [messages]`."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, Mapping):
                out.update(_flatten_field_errors(value, name))
            else:
                out[name] = [
                    str(m)
                    for m in (
                        value if isinstance(value, Iterable) and not isinstance(value, str) else [value]
                    )
                ]
    elif messages:
        out[prefix or "_schema"] = [str(messages)]
    return out


def _strip_location(errors: Mapping[str, Any]) -> Mapping[str, Any]:
    # webargs keys errors by location ("json", "query"); keep "query" distinct, unwrap the body.
    if set(errors) <= {"json", "query", "headers", "files", "form", "path", "view_args", "querystring"}:
        merged: dict[str, Any] = {}
        for location, value in errors.items():
            if location == "json" and isinstance(value, Mapping):
                merged.update(value)
            else:
                merged[location] = value
        return merged
    return errors


def http_exception_response(error: HTTPException) -> Response:
    """Turn any werkzeug / flask-smorest HTTPException into problem+json."""
    status = error.code or 500
    zh, en = _HTTP_MESSAGES.get(status, ("请求失败", error.name or "Error"))
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    extra: dict[str, Any] = {}
    if errors:
        extra["errors"] = _flatten_field_errors(_strip_location(errors))
    if status == 400 and isinstance(error.description, str) and "JSON" in error.description:
        zh, en = "请求体不是合法的 JSON", "The request body is not valid JSON"
    headers = dict(data.get("headers") or {})
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return problem_response(status, zh=zh, en=en, slug=f"http-{status}", headers=headers, **extra)


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

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        zh, en = _HTTP_MESSAGES[500]
        return problem_response(500, zh=zh, en=en, slug="internal")
