"""Freeze endpoints (declare, list, read, change, declare a proposal, cancel, check a window) and the calendar."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask.views import MethodView

from permit_service import clock
from permit_service.api.blueprint import Blueprint
from permit_service.api.conventions import answer, check_if_match, idempotent, if_match_version, paginate
from permit_service.auth import current_principal, require_roles
from permit_service.calendar import get_calendar
from permit_service.db import get_session, transaction
from permit_service.errors import ValidationProblem
from permit_service.freezes import schemas as s
from permit_service.freezes import service, years
from permit_service.freezes.models import Freeze

REGULATORS = ("regulator", "city_regulator")

blp = Blueprint(
    "freezes",
    __name__,
    url_prefix="/freezes",
    description="节假日及重大活动冻结 / Holiday and major-event freezes",
)
calendar_blp = Blueprint(
    "calendar",
    __name__,
    url_prefix="/calendar",
    description="节假日日历及调整 / Holiday calendar and corrections",
)


@blp.route("")
class Freezes(MethodView):
    """Freezes covering the caller's region."""

    @blp.arguments(s.FreezeQueryArgs, location="query")
    @blp.response(200, s.FreezePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List freezes (newest first): regulators see their region, the regions above and below; enterprises what covers them."""
        principal = current_principal()
        session = get_session()
        stmt = service.list_freezes(session, principal=principal, filters=args)
        items, cursor = paginate(session, stmt, Freeze.created_at, Freeze.id, args)
        return {"items": items, "next_cursor": cursor}

    @idempotent
    @require_roles(*REGULATORS)
    @blp.arguments(s.FreezeCreate)
    @blp.response(201, s.FreezeOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Declare a freeze for your district, or as the city regulator for any region of the city (FZ-01/02)."""
        principal = current_principal()
        with transaction() as session:
            freeze = service.declare_freeze(session, principal=principal, data=body, now=clock.now())
            return answer(freeze, 201, location=f"/api/v1/freezes/{freeze.id}")


@blp.route("/check")
class FreezeCheck(MethodView):
    """Is a permit window frozen?"""

    @blp.arguments(s.FreezeCheckArgs, location="query")
    @blp.response(200, s.FreezeCheckOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Whether [valid_from, valid_until) is frozen for this area and type, by which freezes, and what follows (FZ-02/04)."""
        return service.check_window(
            get_session(),
            principal=current_principal(),
            area_id=args["area_id"],
            permit_type=args["type"],
            valid_from=args["valid_from"],
            valid_until=args["valid_until"],
        )


@blp.route("/<uuid:freeze_id>")
class FreezeById(MethodView):
    """One freeze."""

    @blp.response(200, s.FreezeOut)
    def get(self, freeze_id: uuid.UUID) -> Any:
        """Read a freeze; the ETag is its version."""
        return answer(service.get_freeze(get_session(), principal=current_principal(), freeze_id=freeze_id))

    @require_roles(*REGULATORS)
    @blp.arguments(s.FreezeUpdate)
    @blp.response(200, s.FreezeOut)
    def patch(self, body: dict[str, Any], freeze_id: uuid.UUID) -> Any:
        """Change a freeze before it starts (needs If-Match); after its start: 409 FZ-03, cancel it instead."""
        principal = current_principal()
        with transaction() as session:
            current = service.get_freeze(session, principal=principal, freeze_id=freeze_id)
            check_if_match(current.version)
            freeze = service.update_freeze(
                session,
                principal=principal,
                freeze_id=freeze_id,
                changes=body,
                expected_version=current.version,
                now=clock.now(),
            )
            return answer(freeze)


@blp.route("/<uuid:freeze_id>/declare")
class FreezeDeclare(MethodView):
    """Declare a proposal."""

    @require_roles(*REGULATORS)
    @blp.response(200, s.FreezeOut)
    def post(self, freeze_id: uuid.UUID) -> Any:
        """Declare a freeze proposed from the holiday calendar as it stands (an optional If-Match is checked)."""
        principal = current_principal()
        with transaction() as session:
            freeze = service.declare_proposed(
                session,
                principal=principal,
                freeze_id=freeze_id,
                expected_version=if_match_version(),
                now=clock.now(),
            )
            return answer(freeze)


@blp.route("/<uuid:freeze_id>/cancel")
class FreezeCancel(MethodView):
    """Cancel a freeze."""

    @require_roles(*REGULATORS)
    @blp.arguments(s.FreezeCancel)
    @blp.response(200, s.FreezeOut)
    def post(self, body: dict[str, Any], freeze_id: uuid.UUID) -> Any:
        """Cancel a proposed or declared freeze; suspended work does not resume by itself (FZ-03)."""
        principal = current_principal()
        with transaction() as session:
            freeze = service.cancel_freeze(
                session,
                principal=principal,
                freeze_id=freeze_id,
                reason=body["reason"],
                expected_version=if_match_version(),
                now=clock.now(),
            )
            return answer(freeze)


@calendar_blp.route("/holidays")
class Holidays(MethodView):
    """The statutory holidays."""

    @calendar_blp.arguments(s.HolidayQueryArgs, location="query")
    @calendar_blp.response(200, s.HolidayList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The holiday periods of a year as the caller's region has them, and their source (FZ-04, HW-03)."""
        principal = current_principal()
        session = get_session()
        calendar = get_calendar(session, service.home_region(session, principal))
        year = args["year"]
        first, last = date(year, 1, 1), date(year, 12, 31)
        schedule = calendar.year(year)
        return {
            "year": year,
            "source": schedule.source,
            "workdays": sorted(schedule.workdays),
            "calendar_notice": calendar.provisional_notice(first, last),
            "items": calendar.holidays_between(first, last),
        }


@calendar_blp.route("/years/<int:year>")
class CalendarYearConfirm(MethodView):
    """A year's holiday schedule from the State Council's notice."""

    @require_roles("city_regulator")
    @calendar_blp.arguments(s.CalendarYearIn)
    @calendar_blp.response(200, s.CalendarYearOut)
    @calendar_blp.alt_response(201, schema=s.CalendarYearOut, description="first confirmation of the year")
    def put(self, body: dict[str, Any], year: int) -> Any:
        """Confirm your city's year from the notice: used over every package from now on, audited (FZ-04)."""
        principal = current_principal()
        with transaction() as session:
            result, created = years.confirm_year(
                session, principal=principal, year=year, data=body, now=clock.now()
            )
            return result, 201 if created else 200


@calendar_blp.route("/years/<int:year>/preview")
class CalendarYearPreview(MethodView):
    """What the notice would change."""

    @require_roles("city_regulator")
    @calendar_blp.arguments(s.CalendarYearIn)
    @calendar_blp.response(200, s.CalendarYearOut)
    def post(self, body: dict[str, Any], year: int) -> dict[str, Any]:
        """Check the notice and show the days it changes against your city's year now; nothing is stored."""
        return years.preview_year(get_session(), principal=current_principal(), year=year, data=body)


@calendar_blp.route("/overrides")
class Overrides(MethodView):
    """Regulators' corrections of the holiday calendar."""

    @calendar_blp.arguments(s.OverrideQueryArgs, location="query")
    @calendar_blp.response(200, s.OverrideList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the corrections that apply to the caller's region (and, for regulators, the regions below)."""
        items = service.list_overrides(
            get_session(), principal=current_principal(), region_id=args["region_id"], year=args["year"]
        )
        return {"items": items}


@calendar_blp.route("/overrides/<uuid:region_id>/<string:day>")
class OverrideByDay(MethodView):
    """One day's correction in one region."""

    @require_roles(*REGULATORS)
    @calendar_blp.arguments(s.OverrideIn)
    @calendar_blp.response(200, s.OverrideOut)
    @calendar_blp.alt_response(201, schema=s.OverrideOut, description="created")
    def put(self, body: dict[str, Any], region_id: uuid.UUID, day: str) -> Any:
        """Say whether a day (YYYY-MM-DD) is a rest day in your region: a make-up day, a local holiday (FZ-04)."""
        principal = current_principal()
        with transaction() as session:
            override, created = service.set_override(
                session,
                principal=principal,
                region_id=region_id,
                day=_day(day),
                rest_day=body["rest_day"],
                note=body["note"],
                now=clock.now(),
            )
            return override, 201 if created else 200

    @require_roles(*REGULATORS)
    @calendar_blp.response(204)
    def delete(self, region_id: uuid.UUID, day: str) -> None:
        """Remove a correction: the statutory calendar applies again."""
        principal = current_principal()
        with transaction() as session:
            service.remove_override(session, principal=principal, region_id=region_id, day=_day(day))


def _day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationProblem({"day": ["须为 YYYY-MM-DD 日期 / must be a date YYYY-MM-DD"]}) from exc
