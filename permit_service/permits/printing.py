"""A permit printed as its GB 30871-2022 Appendix A form, in three labelled copies (AU-04).

The form is built from the permit as recorded, from its type's declarations in the workflow registry (form number
and title, grades, facts) and from the Appendix A measure list it was filed under: nothing here restates them.
Every value reaches the page through Jinja2 autoescaping, so text a user typed never becomes markup.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import render_template
from sqlalchemy.orm import Session

from permit_service import clock
from permit_service.api.fields import display_tz
from permit_service.checklists.service import printed_checklists
from permit_service.directory.models import Enterprise, Person
from permit_service.measures.lines import lines as measure_lines
from permit_service.permits import service
from permit_service.permits.crew import crew_of
from permit_service.permits.models import Permit, PermitCrewMember
from permit_service.permits.verify import qr_svg, verify_url
from workflows import WORKFLOWS, get_workflow, working_hours
from workflows.certificates import KINDS as CERTIFICATE_KINDS
from workflows.high_risk_job import PLAN27_KINDS
from workflows.model import WorkingPeriod
from workflows.rules.general import CHECKLISTS
from workflows.vocabulary import DEPARTMENT_NAMES, ROLE_NAMES, STATE_NAMES, SUSPENSION_REASONS
from workflows.weather import CONDITION_NAMES

# Policy (AU-04): GB 30871-2022 asks for the form of Appendix A but, as far as we found, does not name who
# keeps which copy. Our default follows the common practice of the 2014 edition: the work unit holds the first
# copy at the work point, the guardian the second, the safety department files the third (kept 1 year, AU-03).
COPIES: tuple[tuple[str, str], ...] = (
    ("第一联 作业单位", "Copy 1: work unit"),
    ("第二联 监护人", "Copy 2: guardian"),
    ("第三联 安全管理部门", "Copy 3: safety department"),
)

# The English of the roles a form names; the Chinese are the service's own (workflows.vocabulary), and a few crew
# roles only the form names.
ROLE_EN: Mapping[str, str] = {
    "applicant": "applicant",
    "work_leader": "work leader",
    "worker": "worker",
    "guardian": "guardian",
    "analyst": "analyst",
    "signaller": "signaller",
    "briefer": "briefer",
    "electrician": "electrician",
    "other": "other",
    "shift_leader": "shift leader",
    "unit_leader": "unit leader",
    "specialist_dept": "specialist department",
    "safety_dept": "safety department",
    "plant_manager": "plant manager or chief engineer",
    "leader_in_charge": "leader in charge",
    "principal": "principal leader",
    "power_supplier": "power supplier",
    "countersigner": "countersigning department",
    "enterprise_admin": "enterprise administrator",
    "system": "system",
}
CREW_ONLY_ROLES: Mapping[str, str] = {
    "briefer": "安全交底人",
    "electrician": "电工",
    "other": "其他",
    "system": "系统",
}
# The signature kinds the workflow records (the steps of workflows.steps; gas tests have their own table).
SIGNATURES: Mapping[str, tuple[str, str]] = {
    "application": ("作业申请", "application"),
    "countersign": ("会签", "countersignature"),
    "rejection": ("退回", "rejection"),
    "approval": ("审批", "approval"),
    "briefing": ("安全交底", "safety briefing"),
    "shift_check": ("当班班长验票", "shift leader's check"),
    "activation": ("作业开始", "work started"),
    "suspension": ("作业暂停", "work suspended"),
    "resumption": ("作业恢复", "work resumed"),
    "completion": ("作业完成", "work completed"),
    "acceptance": ("完工验收", "completion acceptance"),
    "closure": ("关闭", "closure"),
    "cancellation": ("取消", "cancellation"),
    "voiding": ("作废", "voided"),
    "expiry": ("过期失效", "expired"),
}
# What a signature records beside who and when (the evidence keys of those steps); `on_site` has its own column.
EVIDENCE: Mapping[str, tuple[str, str]] = {
    "area_id": ("现场区域", "area on site"),
    "position": ("定位坐标", "position"),
    "card_id": ("定位卡", "positioning card"),
    "declared": ("自报在场", "presence declared"),
    "card_seen_at": ("定位卡识别时间", "card seen at"),
    "weather": ("现场天气", "weather on site"),
    "department": ("会签部门", "department"),
    "content": ("交底内容", "briefing content"),
    "remarks": ("验票意见", "remarks"),
    "reason": ("原因", "reason"),
    "reason_code": ("原因类别", "reason kind"),
    "found_object": ("发现物", "object found"),
    "conditions_confirmed": ("条件已确认", "conditions confirmed"),
    "found_object_disposal": ("发现物处置", "disposal of the object found"),
    "site_restored": ("现场已恢复", "site restored"),
    "traffic_restored": ("交通已恢复", "traffic restored"),
}
# G-06: how the service knew the signer was on site; a declared presence is marked as not seen.
ON_SITE: Mapping[str, tuple[str, str]] = {
    "card_sighting": ("本人定位卡在区域内识别", "own card seen in the area"),
    "position_fix": ("定位坐标在区域边界内", "position fix inside the area"),
    "declared": ("自报在场（未经定位核实）", "declared (not seen by positioning)"),
}
# The parts of the structured values a form prints: a crane, a position, the weather seen on site.
PARTS: Mapping[str, tuple[str, str]] = {
    "rated_t": ("额定起重量", "rated"),
    "load_t": ("分担载荷", "load"),
    "x": ("x", "x"),
    "y": ("y", "y"),
    "floor": ("层", "floor"),
    "lat": ("纬度", "lat"),
    "lon": ("经度", "lon"),
    "accuracy_m": ("精度(m)", "accuracy (m)"),
    "wind_level": ("风力(级)", "wind level"),
    "conditions": ("天气", "conditions"),
}
# Why a permit was suspended, where the service (rather than a person's words) names it (G-08).
REASON_KINDS: Mapping[str, tuple[str, str]] = {
    code: (zh, en) for code, (zh, en, _rule) in SUSPENSION_REASONS.items()
}
RELATIONS: Mapping[str, tuple[str, str]] = {
    "related": ("关联", "related"),
    "parent": ("所服务的作业", "parent"),
    "child": ("附属作业", "child"),
}
# The codes a value may hold, by the fact or evidence key, with their names, where the fact has no `choices` of its
# own (a closed vocabulary prints by those).
VALUE_NAMES: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "also_involves": {code: (w.zh, w.en) for code, w in WORKFLOWS.items()},
    "department": DEPARTMENT_NAMES,
    "reason_code": REASON_KINDS,
    "conditions": CONDITION_NAMES,
}
Pair = tuple[str, str]


def render_form(session: Session, permit: Permit) -> str:
    """The permit's Appendix A form as a self-contained HTML page, three copies (AU-04)."""
    return render_template("permits/form.html", form=form_of(session, permit), copies=COPIES)


def form_of(session: Session, permit: Permit) -> dict[str, Any]:
    """What the printed form shows, in print order, with every person named, every code by its name and every time
    local; what was not recorded is left out rather than printed empty."""
    workflow = get_workflow(permit.type)
    checklists = printed_checklists(session, permit)
    confirmers = {i["confirmed_by"] for c in checklists for i in c["items"] if i["confirmed_by"]}
    names = _names(session, permit.enterprise_id, _person_ids(permit) | confirmers)
    enterprise = session.get(Enterprise, permit.enterprise_id)
    grade = next((g for g in workflow.grades if g.code == permit.grade), None)
    url = verify_url(permit.id)
    return {
        "form": workflow.form,
        "type": (workflow.zh, workflow.en),
        "number": permit.number,
        "verify_url": url,
        "qr": qr_svg(url),
        "grade": (grade.zh, grade.en) if grade and grade.code else None,
        # A type with grades has none before submission, when the service derives it.
        "ungraded": ("提交后定级", "graded on submission")
        if any(g.code for g in workflow.grades)
        else ("不分级", "not graded"),
        "state": _state(permit.state),
        "version": permit.version,
        "enterprise": enterprise.name if enterprise else "",
        "area": f"{permit.area.name} ({permit.area.code})",
        "location": permit.location,
        "work_unit": permit.work_unit,
        "contractor": permit.contractor,
        "title": permit.title,
        "work_content": permit.work_content,
        "risk_analysis": permit.risk_analysis,
        "high_risk_kind": PLAN27_KINDS.get(permit.high_risk_kind or ""),
        "applicant": names.get(permit.applicant_id, ""),
        "valid_from": _local(permit.valid_from),
        "valid_until": _local(permit.valid_until),
        "working_periods": [_period(p) for p in service.working_periods(permit.working_periods)],
        "facts": [
            (f.zh, f.en, _value(permit.facts[f.name], f.choices or VALUE_NAMES.get(f.name)))
            for f in workflow.facts
            if not _blank(permit.facts.get(f.name))
        ],
        "crew": [
            {
                "name": names.get(c.person_id, ""),
                "role": _role(c.role),
                "certificate": _certificate(c),
            }
            for c in crew_of(permit)
        ],
        "measures": _measures(permit, names),
        "measure_list": permit.measure_list_version,
        "checklists": [
            {
                "name": CHECKLISTS[c["kind"]],
                "items": [
                    {
                        "code": item["code"],
                        "text": (item["text_zh"], item["text_en"]),
                        "confirmed_by": names.get(item["confirmed_by"], "") if item["confirmed_by"] else "",
                        "confirmed_at": _local(item["confirmed_at"], short=True)
                        if item["confirmed_at"]
                        else "",
                    }
                    for item in c["items"]
                ],
            }
            for c in checklists
        ],
        "tests_gas": workflow.gas_plan is not None or bool(permit.gas_tests),  # else no gas section
        "gas_tests": [
            {
                "at": _local(t.sampled_at),
                "point": t.point,
                "readings": [_reading(r) for r in t.readings],
                "passed": t.passed,
                "analyst": names.get(t.analyst_id, ""),
            }
            for t in permit.gas_tests
        ],
        "signatures": [
            {
                "kind": _label(SIGNATURES, s.kind),
                "role": _role(s.role),
                "name": names.get(s.person_id, "") if s.person_id else "系统 / system",
                "at": _local(s.at),
                "on_site": _label(ON_SITE, s.on_site) if s.on_site else None,
                "evidence": [
                    (*_label(EVIDENCE, key), _evidence(key, value, permit))
                    for key, value in s.evidence.items()
                    if key
                    not in ("on_site", "accuracy_m")  # accuracy: printed with the position it qualifies
                    and not _blank(value)
                    and not (key == "declared" and value is False)
                ],
            }
            for s in permit.signatures
        ],
        "links": [
            {
                "number": link.linked.number,
                "type": (WORKFLOWS[link.linked.type].zh, WORKFLOWS[link.linked.type].en),
                "relation": _label(RELATIONS, link.relation),
                "state": _state(link.linked.state),
            }
            for link in permit.links
        ],
        "status_reason": permit.status_reason,
        "printed_at": _local(clock.now()),
        "timezone": display_tz().key,
    }


def _measures(permit: Permit, names: Mapping[Any, str]) -> list[dict[str, Any]]:
    """Every line of the list the permit was filed under, with its answer 是否涉及, the counts its blanks record and
    its confirmer 确认人 (G-02); a permit filed before the lists prints the free-text lines it recorded."""
    rows = []
    for line in measure_lines(permit.type, permit.measure_list_version, permit.measures):
        counts = {c["name"]: c for c in line["asks"]}
        confirmer = line["confirmed_by"]
        rows.append(
            {
                "code": line["code"],
                "zh": line["zh"],
                "en": line["en"],
                "involved": line["involved"],
                "counts": [
                    f"{counts[name]['zh']} {value} {counts[name]['unit']}"
                    if name in counts
                    else f"{name} {value}"
                    for name, value in line["counts"].items()
                ],
                "confirmed_by": names.get(uuid.UUID(confirmer), "") if confirmer else "",
                "confirmed_at": _local(line["confirmed_at"], short=True) if line["confirmed_at"] else "",
            }
        )
    return rows


def _period(period: WorkingPeriod) -> tuple[str, str]:
    """A daily working period as the form prints it, a night shift ending 次日 / next day (HW-03)."""
    if not working_hours.overnight(period):
        return working_hours.label(period), working_hours.label(period)
    start, end = f"{period.start:%H:%M}", f"{period.end:%H:%M}"
    return f"{start}-次日{end}", f"{start}-{end} next day"


def _person_ids(permit: Permit) -> set[uuid.UUID]:
    ids = {
        permit.applicant_id,
        *(c.person_id for c in crew_of(permit)),
        *(t.analyst_id for t in permit.gas_tests),
    }
    ids |= {s.person_id for s in permit.signatures if s.person_id}
    ids |= {uuid.UUID(m["confirmed_by"]) for m in permit.measures if m.get("confirmed_by")}
    return ids


def _names(session: Session, enterprise_id: uuid.UUID, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each person's name, in one query: only the permit's enterprise's people are named on its form (G-02)."""
    if not ids:
        return {}
    return {
        pid: name
        for pid, name in session.execute(
            sa.select(Person.id, Person.name).where(Person.id.in_(ids), Person.enterprise_id == enterprise_id)
        )
    }


def _label(table: Mapping[str, Pair], code: str) -> Pair:
    """The zh and en label of a code; an unlisted code shows as itself."""
    return table.get(code, (code, code))


def _certificate(member: PermitCrewMember) -> str:
    """G-13: the certificate submit accepted for the member's work: its Chinese name, number and expiry."""
    if not member.certificate_kind:
        return ""
    kind = CERTIFICATE_KINDS.get(member.certificate_kind, (member.certificate_kind,))[0]
    expires = f"有效期至 {member.certificate_expires_on}" if member.certificate_expires_on else ""
    return " ".join(x for x in (kind, member.certificate_number, expires) if x)


def _role(code: str) -> Pair:
    """A role as the form names it: its Chinese name and its English."""
    return ROLE_NAMES.get(code) or CREW_ONLY_ROLES.get(code, code), ROLE_EN.get(code, code)


def _state(code: str) -> Pair:
    """A state's Chinese name and its code, as the form prints it."""
    return STATE_NAMES.get(code, code), code.replace("_", " ")


def _local(at: datetime, *, short: bool = False) -> str:
    """A stored UTC time as the reader's local time (Asia/Shanghai by default); `short` leaves out the year, for the
    confirmations listed beside each measure and checklist item."""
    return at.astimezone(display_tz()).strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M")


def _reading(reading: Mapping[str, Any]) -> str:
    """A reading as stored, and as measured when the instrument read another unit (%LEL)."""
    text = f"{reading.get('gas')} {reading.get('value'):g} {reading.get('unit')}"
    measured = reading.get("measured") or {}
    if measured and measured.get("unit") != reading.get("unit"):
        text += f" ({measured.get('value'):g} {measured.get('unit')})"
    return text


def _blank(value: Any) -> bool:
    """Nothing recorded: the form leaves the line out instead of printing an empty value."""
    return value is None or value == "" or value == [] or value == {}


def _value(value: Any, names: Mapping[str, Pair] | None = None) -> Pair:
    """A recorded value in words, Chinese and English: yes or no, a number, codes by their names, the parts of a
    structured value by theirs; text as it was written."""
    if _blank(value):
        return "无", "none"
    if isinstance(value, bool):
        return ("是", "yes") if value else ("否", "no")
    if isinstance(value, int | float):
        return f"{value:g}", ""
    if isinstance(value, Mapping):
        parts = [(_label(PARTS, k), _value(v, VALUE_NAMES.get(k))) for k, v in value.items() if not _blank(v)]
        return "，".join(f"{k[0]} {v[0]}" for k, v in parts), ", ".join(
            f"{k[1]} {v[1] or v[0]}" for k, v in parts
        )
    if isinstance(value, list | tuple):
        items = [_value(v, names) for v in value]
        return "、".join(zh for zh, _en in items), ", ".join(en or zh for zh, en in items)
    if names and value in names:
        return names[value]
    return str(value), ""


def _evidence(key: str, value: Any, permit: Permit) -> Pair:
    """A signature's evidence value in words: the permit's area by name, the card's sighting in local time."""
    if key == "area_id" and value == str(permit.area_id):
        return permit.area.name, ""
    if key == "card_seen_at" and isinstance(value, str):
        return _local(datetime.fromisoformat(value)), ""
    return _value(value, VALUE_NAMES.get(key))
