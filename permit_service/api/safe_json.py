"""Request bodies parsed as JSON within limits, so that no body can make the service fail.

Python's parser recurses once per nesting level and turns an integer of any length into an int (over 4,300
digits it raises), and it reads NaN, Infinity and 1e400 as floats no database column stores. Every request body
is parsed here instead: deeper than MAX_DEPTH, an integer outside the 64-bit range or a number that is not
finite is a 400 problem naming the limit.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Request
from flask.json.provider import DefaultJSONProvider

from permit_service.errors import InvalidJSON

MAX_DEPTH = 32  # the deepest body the API takes is 4 levels; facts and evidence leave room, not 1,000 levels
INTEGER_MIN, INTEGER_MAX = -(2**63), 2**63 - 1  # what a BIGINT column and SQLite store


def _refuse(zh: str, en: str) -> InvalidJSON:
    return InvalidJSON(errors={"body": [f"{zh} / {en}"]})


def _integer(text: str) -> int:
    # The length test comes first: int() of a 4,300-digit literal raises.
    if len(text) > len(str(INTEGER_MIN)) or not INTEGER_MIN <= (value := int(text)) <= INTEGER_MAX:
        raise _refuse(
            f"整数 {text[:40]} 超出 64 位范围", f"the integer {text[:40]} is out of the 64-bit range"
        )
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _refuse(f"数值 {text[:40]} 超出范围", f"the number {text[:40]} is out of range")
    return value


def _constant(text: str) -> float:
    raise _refuse(f"不接受 {text}（须为有限数值）", f"{text} is not accepted (numbers must be finite)")


def _check_depth(value: Any) -> None:
    if not isinstance(value, dict | list):
        return
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))


def _too_deep() -> InvalidJSON:
    return _refuse(f"嵌套超过 {MAX_DEPTH} 层", f"nested more than {MAX_DEPTH} levels deep")


def loads(data: str | bytes) -> Any:
    """Parse a request body (InvalidJSON past a limit; json.JSONDecodeError if it is not JSON at all)."""
    try:
        value = json.loads(data, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise _too_deep() from None
    _check_depth(value)
    return value


_PARSED_BODY = "permit_service.parsed_body"  # the WSGI environ's key for a request's parsed body


def request_body(request: Request) -> Any:
    """The request's body parsed as `loads` parses it, once per request: an Idempotency-Key's fingerprint and the
    arguments' load both read it (issue 14: a batch of 500 readings was parsed twice). Raises as `loads` does, or
    UnicodeDecodeError for a body that is not UTF-8; a failed parse is tried again by the next reader."""
    environ = request.environ
    if _PARSED_BODY not in environ:
        environ[_PARSED_BODY] = loads(request.get_data(cache=True).decode())
    return environ[_PARSED_BODY]


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON with `request.get_json()` parsing through `loads` above."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse within the limits (keyword arguments are not taken: the limits are not optional)."""
        return loads(s)
