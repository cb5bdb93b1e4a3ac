"""Marshmallow building blocks shared by every schema: strict schemas and timestamps with offsets."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from marshmallow import RAISE, Schema, ValidationError, fields

from workflows.facts import LINE_BREAK, NOT_ONE_LINE

DEFAULT_DISPLAY_TZ = "Asia/Shanghai"
# Field metadata marking an output field some answers leave out; every other output field is required in OpenAPI.
OPTIONAL_OUTPUT = "x-optional"


def display_tz() -> ZoneInfo:
    """The timezone timestamps are shown in (storage is always UTC)."""
    name = DEFAULT_DISPLAY_TZ
    if has_app_context():
        name = current_app.config.get("DISPLAY_TIMEZONE", DEFAULT_DISPLAY_TZ)
    return ZoneInfo(name)


def unstorable_text(data: Any) -> list[str]:
    """Paths of strings (values or keys) the service does not store: control characters or lone surrogates."""
    # One test over all the text first: bodies are nearly always clean, and naming paths costs more than testing.
    try:
        clean = _storable("".join(_strings(data)))
    except TypeError:  # a key that is not text (never in JSON): the long way names what is wrong
        clean = False
    return [] if clean else _unstorable_paths(data)


_SCALARS = (int, float, type(None))


def _strings(data: Any) -> list[Any]:
    """Every string value and every key of `data`."""
    found: list[Any] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, _SCALARS):
            continue
        elif isinstance(item, Mapping):
            found.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


def _unstorable_paths(data: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and not _storable(key):
                found.append(name)
            found.extend(_unstorable_paths(value, name))
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            found.extend(_unstorable_paths(value, f"{path}.{index}" if path else str(index)))
    elif isinstance(data, str) and not _storable(data):
        found.append(path or "_schema")
    return found


# C0 controls but tab and line breaks (free text may run over lines), DEL and C1 controls: a BEL or an ESC
# sequence in a title would ring or repaint the terminal of whoever reads it.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _storable(text: str) -> bool:
    if _CONTROL.search(text):
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class Text(fields.String):
    """Free text that may run over lines (work content, risk analysis, descriptions, comments): tabs and line
    breaks are kept. Every other string a StrictSchema takes is one line."""


def _one_line(value: Any) -> None:
    if isinstance(value, str) and LINE_BREAK.search(value):
        raise ValidationError(" / ".join(NOT_ONE_LINE))


def _single_line(field: fields.Field) -> None:
    """Make `field`, or the strings inside it, refuse line breaks and tabs, unless it is Text (nested schemas
    see to their own fields)."""
    if isinstance(field, Text):
        return
    if isinstance(field, fields.String):
        if _one_line not in field.validators:
            field.validators.append(_one_line)
    elif isinstance(field, fields.List):
        _single_line(field.inner)
    elif isinstance(field, fields.Tuple):
        for inner in field.tuple_fields:
            _single_line(inner)
    elif isinstance(field, fields.Mapping):
        for inner in (field.key_field, field.value_field):
            if inner is not None:
                _single_line(inner)


class StrictSchema(Schema):
    """Unknown fields are an error, never silently dropped; control characters and text a database cannot store
    are refused; tabs and line breaks only in Text fields (titles, names, codes and reasons are one line)."""

    class Meta:
        unknown = RAISE

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        _single_line(field_obj)

    def load(self, data: Any, **kwargs: Any) -> Any:
        """Load `data`, refusing unstorable text anywhere in it first. Once, by the outermost schema: a nested
        StrictSchema loads a part of what its parent has checked already (a permit's body: 19 checks, 60 µs a
        request, issue 14)."""
        if _TEXT_CHECKED.get():
            return super().load(data, **kwargs)
        bad = unstorable_text(data)
        if bad:
            message = (
                "含控制字符或无效的 Unicode 字符 / contains control characters or invalid Unicode characters"
            )
            raise ValidationError(
                {path.encode(errors="backslashreplace").decode(): [message] for path in bad}
            )
        checked = _TEXT_CHECKED.set(True)
        try:
            return super().load(data, **kwargs)
        finally:
            _TEXT_CHECKED.reset(checked)


# Set while a StrictSchema loads what it has checked for unstorable text (its nested schemas need not check again).
_TEXT_CHECKED: ContextVar[bool] = ContextVar("strict_schema_text_checked", default=False)


class StrictBoolean(fields.Boolean):
    """JSON `true` or `false` only; "yes", 1 or "on" are type errors, not booleans."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class AwareDateTime(fields.DateTime):
    """ISO 8601 with an offset in, UTC inside, Asia/Shanghai out; naive input is refused."""

    default_error_messages = {  # noqa: RUF012
        "naive": "须带时区偏移量，例如 2026-10-01T08:00:00+08:00 / must carry a UTC offset, e.g. +08:00",
        "range": "超出允许的时间范围 / out of the accepted range (2000-2100)",
    }

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(display_tz()).isoformat()

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is None:
            raise self.make_error("naive")
        if not 2000 <= parsed.year <= 2100:
            raise self.make_error("range")
        return parsed.astimezone(UTC)


class FiniteFloat(fields.Float):
    """A float that refuses NaN and infinities."""

    def _validated(self, value: Any) -> float:
        result = super()._validated(value)
        if result is not None and not math.isfinite(result):
            raise ValidationError("须为有限数值 / must be a finite number")
        return result
