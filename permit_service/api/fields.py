"""Marshmallow building blocks shared by every schema: strict schemas and timestamps with offsets."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from marshmallow import RAISE, Schema, ValidationError, fields

DEFAULT_DISPLAY_TZ = "Asia/Shanghai"


def display_tz() -> ZoneInfo:
    """The timezone timestamps are shown in (storage is always UTC)."""
    name = DEFAULT_DISPLAY_TZ
    if has_app_context():
        name = current_app.config.get("DISPLAY_TIMEZONE", DEFAULT_DISPLAY_TZ)
    return ZoneInfo(name)


class StrictSchema(Schema):
    """Unknown fields are an error, never silently dropped."""

    class Meta:
        unknown = RAISE


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
