"""Special-work certificates (G-13, GB 4.9): the certificate a crew role needs follows from the permit's type and
its work, and the service checks the certificate on the holder's own record (kind, number, expiry), never the
applicant's word. A type declares its needs; submit and activate check them; submit records what it accepted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from workflows.model import Certificate, Context, CrewMember, PermitData
from workflows.rules import Guard, Violation
from workflows.rules.general import aware
from workflows.vocabulary import zh_name

SHANGHAI = ZoneInfo("Asia/Shanghai")

# The certificate kinds a person's record may hold: 特种作业操作证 (emergency management) and 特种设备作业人员证
# (market regulation, TSG Z6001), by their Chinese names as the printed form shows them.
KINDS: Mapping[str, tuple[str, str]] = {
    "welder": (
        "特种作业操作证（焊接与热切割作业）",
        "special-work certificate: welding and thermal cutting",
    ),
    "electrician": ("特种作业操作证（电工作业）", "special-work certificate: electrical work"),
    "crane_operator": (
        "特种设备作业人员证（起重机械作业）",
        "special-equipment operator certificate: crane operation",
    ),
    "crane_signaller": (
        "特种设备作业人员证（起重机械指挥）",
        "special-equipment operator certificate: crane signalling",
    ),
}


@dataclass(frozen=True)
class Need:
    """Every crew member in `role` holds a valid certificate of `kind`; with `fact`, only when that fact names one
    of `values` (hot work: the welding and cutting methods)."""

    role: str
    kind: str
    fact: str | None = None
    values: frozenset[str] = frozenset()

    def applies(self, facts: Mapping[str, Any]) -> bool:
        """Whether the permit's work calls for the certificate."""
        if self.fact is None:
            return True
        declared = facts.get(self.fact)
        named = declared if isinstance(declared, list) else [declared]
        return any(isinstance(v, str) and v in self.values for v in named)

    def catalogue(self) -> dict[str, Any]:
        """The need as the catalogue publishes it."""
        zh, en = KINDS[self.kind]
        when = {"fact": self.fact, "any_of": sorted(self.values)} if self.fact else None
        return {"role": self.role, "kind": self.kind, "zh": zh, "en": en, "when": when}


@dataclass(frozen=True)
class Certified:
    """The certificate on a crew member's record that meets a need: what submit records on the permit."""

    person_id: str
    role: str
    certificate: Certificate


def last_day(permit: PermitData) -> date:
    """The last day (Asia/Shanghai) of the permit's validity: a certificate must hold through it."""
    return (aware(permit.valid_until) - timedelta(microseconds=1)).astimezone(SHANGHAI).date()


def _due(needs: tuple[Need, ...], permit: PermitData) -> list[tuple[CrewMember, str]]:
    return [
        (m, need.kind)
        for need in needs
        if need.applies(permit.facts)
        for m in permit.crew
        if m.role == need.role
    ]


def _valid(member: CrewMember, kind: str, through: date) -> Certificate | None:
    """The member's certificate of `kind` that holds through `through` (the one lasting longest)."""
    held = [
        c
        for c in member.certificates
        if c.kind == kind and c.expires_on is not None and c.expires_on >= through
    ]
    return max(held, key=lambda c: c.expires_on or through, default=None)


def certified(needs: tuple[Need, ...], permit: PermitData) -> tuple[Certified, ...]:
    """The certificates that meet the permit's needs, one per crew member and need."""
    through = last_day(permit)
    return tuple(
        Certified(m.person_id, m.role, found)
        for m, kind in _due(needs, permit)
        if (found := _valid(m, kind, through))
    )


def _lack(member: CrewMember, kind: str, through: date, today: date) -> tuple[str, str] | None:
    """Why the member has no valid certificate of `kind` (zh, en), or None when they have one."""
    if _valid(member, kind, through):
        return None
    zh, en = KINDS[kind]
    own = [c for c in member.certificates if c.kind == kind]
    dated = [c for c in own if c.expires_on is not None]
    if not own:
        return f"无{zh}", f"holds no {en}"
    if not dated:
        return f"{zh}未登记有效期", f"{en}: no expiry date on record"
    latest = max(dated, key=lambda c: c.expires_on or through)
    if latest.expires_on and latest.expires_on < today:
        return (
            f"{zh}（{latest.number}）已于{latest.expires_on}过期",
            f"{en} {latest.number} expired on {latest.expires_on}",
        )
    return (
        f"{zh}（{latest.number}）有效期至{latest.expires_on}，早于作业票有效期结束日{through}",
        f"{en} {latest.number} is valid only until {latest.expires_on}, before the permit ends on {through}",
    )


def held(needs: tuple[Need, ...]) -> Guard:
    """A guard (G-13): every crew member the work calls for holds a valid certificate of the needed kind on their
    record, unexpired through the permit's last day."""

    def certificates_held(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        through, today = last_day(permit), aware(ctx.now).astimezone(SHANGHAI).date()
        lacking = [(m, found) for m, kind in _due(needs, permit) if (found := _lack(m, kind, through, today))]
        if not lacking:
            return None
        zh = "；".join(f"{m.name or m.person_id}（{zh_name(m.role)}）{why[0]}" for m, why in lacking)
        en = "; ".join(f"{m.name or m.person_id} ({m.role}): {why[1]}" for m, why in lacking)
        return Violation("G-13", f"特种作业人员须持有效证书：{zh}", f"crew without a valid certificate: {en}")

    return certificates_held
