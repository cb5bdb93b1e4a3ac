"""Drive permits through the HTTP API as the right people would: `PermitFlow(...).file(...).submit().approve()...`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from permit_service.directory.models import Person
from tests.api.checks import assert_problem
from tests.conftest import DEFAULT_NOW
from tests.factories import Factory, World
from workflows import measures

API = "/api/v1/permits"
# Inside the boundary every factory area has (tests.factories.BOUNDARY), accurate enough for G-06.
POSITION_INSIDE = {"lat": 35.38, "lon": 119.52, "accuracy_m": 3}


def iso(delta: timedelta = timedelta(0)) -> str:
    """A timestamp relative to the test clock's start, with an offset."""
    return (DEFAULT_NOW + delta).isoformat()


def draft_body(world: World, permit_type: str = "hot_work", **overrides: Any) -> dict[str, Any]:
    """A complete draft: hazard analysis, every measure line answered, crew with a guardian and a worker whose record
    holds the certificates the work needs (G-13)."""
    people = world.people
    worker = people["worker"]
    body: dict[str, Any] = {
        "type": permit_type,
        "area_id": str(world.area.id),
        "title": "常减压装置 E-101 换热器出口管线补焊",
        "location": "常减压装置区 E-101",
        "work_content": "更换法兰并补焊",
        "valid_from": iso(timedelta(minutes=10)),
        "valid_until": iso(timedelta(hours=6)),
        "facts": dict(TYPE_FACTS[permit_type]),
        "risk_analysis": "可燃气体泄漏、火花飞溅；已隔离并置换",
        "high_risk_kind": "none",  # HR-01: every permit answers whether it is Plan-27 work
        "measures": measure_answers(permit_type),
        "crew": [
            {"person_id": str(people["work_leader"].id), "role": "work_leader"},
            {"person_id": str(worker.id), "role": "worker"},
            {"person_id": str(people["guardian"].id), "role": "guardian"},
        ],
    }
    body.update(overrides)
    return body


# G-02: the lines each type's standard scene answers involved, with the counts their blanks ask for; every other
# line of the type's Appendix A list is answered not involved.
INVOLVED: dict[str, dict[str, dict[str, int]]] = {
    "hot_work": {
        "A1-02": {"blinds": 2},
        "A1-08": {"extinguishers": 4, "fire_blankets": 2, "fire_hoses": 1},
        "A1-13": {},
    },
    "confined_space": {"A2-07": {}, "A2-11": {"fire_equipment": 2, "lifelines": 2, "gas_protection": 2}},
}


def measure_answers(
    permit_type: str, involved: dict[str, dict[str, int]] | None = None
) -> list[dict[str, Any]]:
    """Every listed line of the type's Appendix A list answered: `involved` (default: the scene's) with counts."""
    mlist = measures.current(permit_type)
    chosen = INVOLVED.get(permit_type, {mlist.lines[0].code: {}}) if involved is None else involved
    return [
        {"code": line.code, "involved": line.code in chosen, "counts": chosen.get(line.code, {})}
        for line in mlist.lines
        if not line.other
    ]


# The facts each type needs to be filed and worked in the standard scene (a running fire-explosion area).
# Hot work carries HW-07's special-grade needs, asked at submit, so it files at any grade (at night, on a rest day).
HW07_READY = {"continuous_gas_monitoring": True, "written_plan": "特级动火作业方案", "video_recording": True}
TYPE_FACTS: dict[str, dict[str, Any]] = {
    "hot_work": {"methods": ["electric_welding"], **HW07_READY},
    "confined_space": {"space_id": "T-101", "medium": "原油"},
    "blind_plate": {
        "pipeline_id": "P-201",
        "blind_number": "B-07",
        "action": "insert",
        "diagram_blind_numbers": ["B-07", "B-08"],
    },
    "height": {"height_m": 4},
    "lifting": {"load_t": 20, "outdoor": True, "wind_level": 3},
    "temporary_power": {"voltage_v": 380, "connection_point": "配电室 2# 柜"},
    "excavation": {"depth_m": 1.0},
    "road_closure": {"road": "3号路", "traffic_plan": "绕行4号路，保留消防通道", "fire_access_kept": True},
}
# GB B.1: the approver role of each type and grade (the rules.md §3 table).
APPROVER: dict[tuple[str, str | None], str] = {
    ("hot_work", "level2"): "unit_leader",
    ("hot_work", "level1"): "safety_dept",
    ("hot_work", "special"): "leader_in_charge",
    ("confined_space", None): "unit_leader",
    ("blind_plate", None): "unit_leader",
    ("height", "I"): "unit_leader",
    ("height", "II"): "specialist_dept",
    ("height", "III"): "specialist_dept",
    ("height", "IV"): "plant_manager",
    ("lifting", "level1"): "plant_manager",
    ("lifting", "level2"): "specialist_dept",
    ("lifting", "level3"): "specialist_dept",
    ("temporary_power", None): "power_supplier",
    ("excavation", None): "specialist_dept",
    ("road_closure", None): "specialist_dept",
}
# G-04: what permits sharing an area and a window declare.
CROSS_OPERATION = {
    "cross_operation_coordinator": "李协调",
    "cross_operation_risk_analysis": "动火与临时用电交叉：分区隔离",
}
ACCEPTORS = {"blind_plate": ("work_leader", "unit_leader"), "road_closure": ("safety_dept",)}  # BP-04, RC-02
CLOSER = {"temporary_power": "power_supplier"}  # TE-03
SAFE_AIR = {
    "confined_space": [
        {"gas": "O2", "value": 20.9, "unit": "%vol"},
        {"gas": "CH4", "value": 0.1, "unit": "%vol"},
        {"gas": "H2S", "value": 1.0, "unit": "mg/m3"},
    ],
}
DEFAULT_AIR = [{"gas": "CH4", "value": 0.1, "unit": "%vol"}]
SEGMENTS = {"shift_check": "shift-check", "record_gas_test": "gas-tests"}
BRIEFING_ORDER = ("signaller", "work_leader", "worker")


class PermitFlow:
    """One permit driven through the API by real people with real tokens; each step asserts it was accepted.

    Steps return the flow, so a test reads like the standard:
    `flow.file("hot_work").submit().approve().gas_test().brief().shift_check().activate()`.
    `attempt(...)` returns the raw answer, `refused(...)` asserts a problem+json with the rule that blocked.
    """

    def __init__(self, client: FlaskClient, factory: Factory, world: World) -> None:
        self.client, self.factory, self.world = client, factory, world
        self.permit: dict[str, Any] = {}
        self.filed_by: str | Person = "applicant"
        self._extra: dict[str, Person] = {}

    def another(self) -> PermitFlow:
        """A second permit in the same scene (same people, same extra people)."""
        other = PermitFlow(self.client, self.factory, self.world)
        other._extra = self._extra
        return other

    # -- who and when -----------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The app's clock."""
        return self.factory.app.extensions["clock"].now()

    def at(self, delta: timedelta = timedelta(0)) -> str:
        """An ISO timestamp relative to the app's clock."""
        return (self.now + delta).isoformat()

    def person(self, who: str | Person) -> Person:
        """A person of the scene by role (one per role), an extra person by name (see `extra`), or the person."""
        if isinstance(who, Person):
            return who
        return self._extra.get(who) or self.world.people[who]

    def extra(self, name: str, *roles: str, **kw: Any) -> Person:
        """Another person of the enterprise, created once per name (e.g. a signaller, a second guardian)."""
        if name not in self._extra:
            self._extra[name] = self.factory.person(*roles, enterprise=self.world.enterprise, **kw)
        return self._extra[name]

    def headers(self, who: str | Person, **extra: str) -> dict[str, str]:
        """Authorization headers of a role's person (or a person)."""
        return self.factory.headers(self.person(who), **extra)

    # -- the permit -------------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.permit["id"]

    @property
    def number(self) -> str:
        return self.permit["number"]

    @property
    def state(self) -> str:
        return self.permit["state"]

    @property
    def url(self) -> str:
        return f"{API}/{self.id}"

    def body(
        self, permit_type: str = "hot_work", *, facts: dict[str, Any] | None = None, **overrides: Any
    ) -> dict:
        """A complete draft of `permit_type` in the standard scene, its window starting now for 6 h."""
        crew = draft_body(self.world)["crew"]
        if permit_type == "lifting":  # LF-04: the signaller leads the lifting crew
            signaller = self.extra(
                "signaller", "worker", certificates=[("crane_signaller", f"Q1-{uuid4().hex[:12]}")]
            )
            crew = [{"person_id": str(signaller.id), "role": "signaller"}, *crew]
        base = draft_body(
            self.world,
            permit_type,
            valid_from=self.at(),
            valid_until=self.at(timedelta(hours=6)),
            facts={**TYPE_FACTS[permit_type], **(facts or {})},
            crew=crew,
        )
        return {**base, **overrides}

    def file(
        self,
        permit_type: str = "hot_work",
        *,
        by: str | Person = "applicant",
        facts: dict | None = None,
        **kw: Any,
    ) -> PermitFlow:
        """File a draft (201)."""
        resp = self.client.post(API, json=self.body(permit_type, facts=facts, **kw), headers=self.headers(by))
        assert resp.status_code == 201, resp.get_json()
        self.permit, self.filed_by = resp.get_json(), by
        return self

    def reload(self, by: str | Person = "applicant") -> PermitFlow:
        """Read the permit again as `by`."""
        resp = self.client.get(self.url, headers=self.headers(by))
        assert resp.status_code == 200, resp.get_json()
        self.permit = resp.get_json()
        return self

    def attempt(
        self, action: str, body: dict[str, Any] | None = None, *, by: str | Person, **headers: str
    ) -> TestResponse:
        """POST an action as `by` and return the answer as it is (the permit is refreshed when accepted)."""
        segment = SEGMENTS.get(action, action)
        resp = self.client.post(f"{self.url}/{segment}", json=body or {}, headers=self.headers(by, **headers))
        if resp.status_code in (200, 201):
            self.permit = resp.get_json()
        return resp

    def do(self, action: str, body: dict[str, Any] | None = None, *, by: str | Person) -> PermitFlow:
        """An action that must be accepted."""
        resp = self.attempt(action, body, by=by)
        assert resp.status_code == 200, (action, resp.get_json())
        return self

    def refused(
        self,
        action: str,
        rule: str,
        body: dict[str, Any] | None = None,
        *,
        by: str | Person,
        status: int = 409,
    ) -> dict[str, Any]:
        """An action that must be refused with `rule` first; returns the problem body."""
        problem = assert_problem(self.attempt(action, body, by=by), status)
        assert problem["rule"] == rule, problem
        return problem

    # -- the steps of the standard, by the roles it names ------------------------------------------------

    def submit(self, by: str | Person = "applicant", *, confirm: bool = True) -> PermitFlow:
        """Submit, then (unless `confirm` is false) record a confirmer for every involved measure line (G-02)."""
        self.do("submit", by=by)
        return self.confirm_measures() if confirm else self

    def confirmation(
        self, code: str, confirmer: str | Person = "unit_leader", *, by: str | Person | None = None
    ) -> TestResponse:
        """PUT who confirmed one measure line, as `by` (default: whoever filed), against the current version."""
        return self.client.put(
            f"{self.url}/measures/{code}/confirmation",
            json={"confirmed_by": str(self.person(confirmer).id)},
            headers=self.headers(by or self.filed_by, **{"If-Match": f'"{self.permit["version"]}"'}),
        )

    def confirm_line(self, code: str, confirmer: str | Person = "unit_leader") -> PermitFlow:
        """A confirmation that must be accepted; the permit is read again."""
        resp = self.confirmation(code, confirmer)
        assert resp.status_code == 200, resp.get_json()
        return self.reload()

    def confirm_measures(self, confirmer: str | Person = "unit_leader") -> PermitFlow:
        """Every involved measure line still without a confirmer confirmed, one event each (G-02)."""
        other = measures.current(self.permit["type"]).other.code  # 其他安全措施: answered by the added lines
        for line in self.permit["measures"]:
            if line["involved"] and not line["confirmed_by"] and line["code"] != other:
                self.confirm_line(line["code"], confirmer)
        return self

    def member(self, department: str) -> Person:
        """The countersigner of one department (EX-01, RC-01), created once per department."""
        return self.extra(f"countersigner:{department}", "countersigner", departments=[department])

    def countersign(self, *departments: str) -> PermitFlow:
        """Countersign for each department (default: every one fixed at submission), each by its own member."""
        for department in departments or self.permit["countersign_departments"]:
            self.do("countersign", {"department": department}, by=self.member(department))
        return self

    def evidence(self) -> dict[str, Any]:
        """On-site evidence of an approval (G-06): a position fix inside the area's boundary, accurate to 3 m."""
        return {"area_id": self.permit["area_id"], "position": POSITION_INSIDE}

    def approver(self) -> str:
        """The B.1 approver role of the permit's type and current grade."""
        return APPROVER[(self.permit["type"], self.permit["grade"])]

    def approve(self, by: str | Person | None = None, evidence: dict[str, Any] | None = None) -> PermitFlow:
        return self.do("approve", {"evidence": evidence or self.evidence()}, by=by or self.approver())

    def readings(self) -> list[dict[str, Any]]:
        """Readings that pass the type's gas rule."""
        return SAFE_AIR.get(self.permit["type"], DEFAULT_AIR)

    def gas_body(
        self, readings: Iterable[dict[str, Any]] | None = None, ago: timedelta = timedelta(0)
    ) -> dict:
        """A gas analysis sampled `ago` before now."""
        return {
            "sampled_at": self.at(-ago),
            "point": "作业点",
            "readings": list(readings) if readings is not None else self.readings(),
        }

    def gas_test(
        self,
        readings: Iterable[dict[str, Any]] | None = None,
        *,
        ago: timedelta = timedelta(0),
        by: str | Person = "analyst",
    ) -> PermitFlow:
        return self.do("record_gas_test", self.gas_body(readings, ago), by=by)

    def brief(self) -> PermitFlow:
        """The briefer signs first, then every worker (G-05; the signaller first for lifting, LF-04)."""
        crew = sorted(
            (m for m in self.permit["crew"] if m["role"] in BRIEFING_ORDER),
            key=lambda m: BRIEFING_ORDER.index(m["role"]),
        )
        people = {str(p.id): p for p in (*self.world.people.values(), *self._extra.values())}
        for member in crew:
            self.do("brief", by=people[member["person_id"]])
        return self

    def shift_check(self) -> PermitFlow:
        return self.do("shift_check", by="shift_leader")

    def activate(self, by: str | Person = "work_leader", **extra: Any) -> PermitFlow:
        return self.do("activate", {**self._weather_seen(), **extra}, by=by)

    def suspend(self, reason: str = "现场异常", by: str | Person = "guardian", **extra: Any) -> PermitFlow:
        return self.do("suspend", {"reason": reason, **extra}, by=by)

    def resume(self, by: str | Person = "work_leader", **extra: Any) -> PermitFlow:
        return self.do("resume", {"conditions_confirmed": True, **self._weather_seen(), **extra}, by=by)

    def _weather_seen(self) -> dict[str, Any]:
        """Weather-bound work starts and resumes with the weather reported (WH-02, LF-03): a calm day here."""
        bound = self.permit["type"] == "height" or (
            self.permit["type"] == "lifting" and self.permit["facts"].get("outdoor")
        )
        return {"weather": {"wind_level": 2, "conditions": []}} if bound else {}

    def complete(self, by: str | Person = "work_leader") -> PermitFlow:
        return self.do("complete", by=by)

    def accept(self, *by: str | Person) -> PermitFlow:
        """Completion acceptance by each party the type needs (G-11, BP-04, RC-02)."""
        for who in by or ACCEPTORS.get(self.permit["type"], ("unit_leader",)):
            self.do("accept", {"site_restored": True, "traffic_restored": True}, by=who)
        return self

    def close(self, by: str | Person | None = None) -> PermitFlow:
        return self.do("close", by=by or CLOSER.get(self.permit["type"], "unit_leader"))

    # -- whole stretches ----------------------------------------------------------------------------------

    def to_approved(self) -> PermitFlow:
        """Submit, countersign where the type needs it, approve."""
        self.submit()
        if self.permit["type"] in ("excavation", "road_closure"):
            self.countersign()
        return self.approve()

    def to_briefed(self) -> PermitFlow:
        """Approved, then the briefing signed (and the shift check for hot work)."""
        self.to_approved().brief()
        if self.permit["type"] == "hot_work":
            self.shift_check()
        return self

    def to_active(self) -> PermitFlow:
        """Approved, a fresh passing gas test where the type tests gas, briefed, at work."""
        self.to_briefed()
        if self.permit["type"] in ("hot_work", "confined_space", "temporary_power"):
            self.gas_test()
        return self.activate()

    def to_closed(self) -> PermitFlow:
        """At work, completed, accepted and closed."""
        return self.to_active().complete().accept().close()

    def hot_work_with_its_power(self) -> tuple[PermitFlow, PermitFlow]:
        """A hot work and the temporary power serving it (TE-01), linked (G-03), both at work."""
        parent = self.file("hot_work", facts={"also_involves": ["temporary_power"], **CROSS_OPERATION})
        power = self.another().file(
            "temporary_power",
            linked_permit_ids=[parent.id],
            facts={"parent_permit_number": parent.number, **CROSS_OPERATION},
        )
        return parent.to_active(), power.to_active()
