"""Rizhao demo data for `permit-service seed-demo`: idempotent, in one transaction, printing how to log in.

What it creates (every object is looked up by its natural key first and created only when missing, so a second
run creates nothing; existing rows are never changed):

- Regions (natural key: code). 日照市 371100 (city); its districts and counties 东港区 371102, 岚山区 371103,
  五莲县 371121, 莒县 371122; and the functional zones 日照经济技术开发区 (371171, its statistical division code),
  山海天旅游度假区 and 日照高新技术产业开发区. The last two have no code in GB/T 2260 or the statistical
  division codes, so they get local codes (`371100-SHT`, `371100-GX`) that can never clash with an official one.
  Every zone's parent is the city, not the district it was carved from: Rizhao's functional zones are run by
  management committees (管委会) under the city with their own emergency-management bureau, so an enterprise
  in a zone is supervised by the zone and the city, never by 东港区 (the scope follows `parent_id`).
- The three chemical parks the city plan names in measures 45-51 (natural key: name): 岚山化工产业园 in 岚山区,
  日照海右化工产业园 in 莒县, and 日照生物化工产业园 in 日照经济技术开发区. The plan names the parks but not
  their regions; these regions are our reading, to be confirmed with the city.
- Two fictitious enterprises marked 演示 (natural key: unified social credit code, 18 characters with valid
  GB 32100 / GB 11714 check characters and a `DM` organisation code no real company holds), each with risk
  areas (natural key: enterprise + area code). Running units with flammable, explosive or toxic material carry
  `max_headcount` 3 (HC-01, Plan 23).
- People (natural key: username): in the first enterprise one person for every enterprise role of rules.md §0,
  four of them `worker`s holding the welder's, electrician's, crane operator's and crane signaller's certificates
  (G-13, each with its expiry; natural key: kind + number), and a member of each department that countersigns an
  excavation by default (EX-01: water, power, telecom, fire, safety; one person per department); a few in the second enterprise; a regulator for each district and zone and the city
  regulator. Enterprise staff carry positioning cards (HC-03).
- One integration client per enterprise (natural key: client_id) for its DCS / gas / positioning portal.
- Two regulators' platform clients (natural key: client_id), the city's "智慧安全" platform and 岚山区's, that read
  their region's event feed (`GET /api/v1/regulator/events`) and may subscribe to pushes (DC-04, measures 59-61).
- A site checklist (SD-02, natural key: enterprise + kind) for the first enterprise, so that its permits show
  items to confirm before approval. The plan does not publish the "十个要素" (rules.md §11): these ten items
  are our illustration, not the plan's. The second enterprise configures none: it has nothing to confirm.

Every account's password (and every client secret) is `DEMO_PASSWORD`: acceptable only because this is demo
data. The command refuses to run with PERMIT_ENV=production. Each created object is an audit event by the system.

Adding more demo data (e.g. demo permits once wanted): write a step `def _permits(seeder: Seeder) -> None` that
finds its object by a natural key (e.g. the permit title within `seeder.enterprises[...]`), creates it only if
missing through the service layer (e.g. `permits.service.create_permit(session, principal=
principal_of_person(seeder.people["lh.applicant"]), data=...)`), and append it to `STEPS`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import click
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from permit_service import clock
from permit_service.audit import service as audit
from permit_service.auth.models import IntegrationClient
from permit_service.auth.passwords import hash_secret
from permit_service.auth.principal import SYSTEM
from permit_service.checklists.models import EnterpriseChecklist
from permit_service.db import transaction
from permit_service.directory.models import Certificate, ChemicalPark, Enterprise, Person, PlantArea, Region

DEMO_PASSWORD = "Demo@Rizhao2026"  # noqa: S105 - the documented demo password; seeding is refused in production
CITY_CODE = "371100"

T = TypeVar("T")


# --- what the demo holds --------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionSpec:
    """A region and the code of its parent."""

    code: str
    name: str
    name_en: str
    level: str
    parent_code: str | None


@dataclass(frozen=True)
class AreaSpec:
    """A risk area with its hazard flags (HC-01 limit where it applies)."""

    code: str
    name: str
    running_unit: bool = False
    flammable: bool = False
    explosive: bool = False
    toxic: bool = False
    fire_explosion_area: bool = False
    max_headcount: int | None = None
    major_hazard: bool = False
    dike_code: str | None = None
    media: tuple[str, ...] = ()  # gas codes (G-14): a gas test measures their representative gases


@dataclass(frozen=True)
class CertSpec:
    """A special-work certificate (G-13)."""

    kind: str
    number: str
    expires_on: date


@dataclass(frozen=True)
class PersonSpec:
    """A person who signs in, with roles, positioning card, certificates and the departments they countersign for."""

    username: str
    name: str
    roles: tuple[str, ...]
    card: str | None = None
    certificates: tuple[CertSpec, ...] = ()
    departments: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnterpriseSpec:
    """A demo enterprise with its areas, staff and integration client."""

    credit_code: str
    name: str
    region_code: str
    park: str
    risk_grade: str
    areas: tuple[AreaSpec, ...]
    people: tuple[PersonSpec, ...]
    client_id: str
    client_name: str


REGIONS = (
    RegionSpec(CITY_CODE, "日照市", "Rizhao", "city", None),
    RegionSpec("371102", "东港区", "Donggang District", "district", CITY_CODE),
    RegionSpec("371103", "岚山区", "Lanshan District", "district", CITY_CODE),
    RegionSpec("371121", "五莲县", "Wulian County", "district", CITY_CODE),
    RegionSpec("371122", "莒县", "Ju County", "district", CITY_CODE),
    RegionSpec("371171", "日照经济技术开发区", "Rizhao Economic and Technological Development Zone", "zone", CITY_CODE),
    RegionSpec("371100-SHT", "山海天旅游度假区", "Shanhaitian Tourist Resort", "zone", CITY_CODE),
    RegionSpec("371100-GX", "日照高新技术产业开发区", "Rizhao High-tech Industrial Development Zone", "zone", CITY_CODE),
)  # fmt: skip

PARKS = (
    ("岚山化工产业园", "371103"),
    ("日照海右化工产业园", "371122"),
    ("日照生物化工产业园", "371171"),
)

_RUNNING_FIRE_AREA = {"running_unit": True, "flammable": True, "explosive": True, "fire_explosion_area": True}

ENTERPRISES = (
    EnterpriseSpec(
        credit_code="91371103DM20260145",
        name="日照岚海石化有限公司（演示）",
        region_code="371103",
        park="岚山化工产业园",
        risk_grade="yellow",
        areas=(
            AreaSpec("LH-U100", "100万吨/年常减压装置", **_RUNNING_FIRE_AREA, max_headcount=3, media=("CH4",)),
            AreaSpec(
                "LH-U300", "硫磺回收装置", **_RUNNING_FIRE_AREA, toxic=True, max_headcount=3, media=("H2S", "SO2")
            ),
            AreaSpec(
                "LH-T200",
                "原油罐区（重大危险源）",
                **_RUNNING_FIRE_AREA,
                max_headcount=3,
                major_hazard=True,
                dike_code="LH-T200-D1",
                media=("C4H10", "H2S"),
            ),
            AreaSpec("LH-W900", "机修车间"),
        ),
        people=(
            PersonSpec("lh.applicant", "刘洋", ("applicant",), "LH-0001"),
            PersonSpec("lh.work_leader", "陈志强", ("work_leader",), "LH-0002"),
            PersonSpec(
                "lh.welder", "王海涛", ("worker",), "LH-0003",
                (CertSpec("welder", "T371103-DEMO-0101", date(2030, 3, 31)),),
            ),
            PersonSpec(
                "lh.electrician", "赵立军", ("worker",), "LH-0004",
                (CertSpec("electrician", "T371103-DEMO-0102", date(2029, 9, 30)),),
            ),
            PersonSpec(
                "lh.crane_operator", "孙建华", ("worker",), "LH-0005",
                (CertSpec("crane_operator", "Q2-371103-DEMO-0103", date(2028, 12, 31)),),
            ),
            PersonSpec("lh.guardian", "李明", ("guardian",), "LH-0006"),
            PersonSpec("lh.analyst", "周静", ("analyst",), "LH-0007"),
            PersonSpec("lh.shift_leader", "吴凯", ("shift_leader",), "LH-0008"),
            PersonSpec("lh.unit_leader", "郑伟", ("unit_leader",), "LH-0009"),
            PersonSpec("lh.specialist_dept", "冯涛", ("specialist_dept",), "LH-0010"),
            PersonSpec("lh.safety_dept", "许丽", ("safety_dept",), "LH-0011", departments=("safety",)),
            PersonSpec("lh.plant_manager", "何国栋", ("plant_manager",), "LH-0012"),
            PersonSpec("lh.leader_in_charge", "高建军", ("leader_in_charge",), "LH-0013"),
            PersonSpec("lh.principal", "徐振华", ("principal",), "LH-0014"),
            PersonSpec("lh.power_supplier", "马超", ("power_supplier",), "LH-0015"),
            PersonSpec("lh.countersigner", "韩磊", ("countersigner",), "LH-0016", departments=("water",)),
            PersonSpec("lh.power_dept", "胡斌", ("countersigner",), "LH-0019", departments=("power",)),
            PersonSpec("lh.telecom_dept", "罗晓东", ("countersigner",), "LH-0020", departments=("telecom",)),
            PersonSpec("lh.fire_dept", "梁勇", ("countersigner",), "LH-0021", departments=("fire",)),
            PersonSpec("lh.admin", "杨帆", ("enterprise_admin",), "LH-0017"),
            PersonSpec(
                "lh.signaller", "钱卫东", ("worker",), "LH-0018",
                (CertSpec("crane_signaller", "Q1-371103-DEMO-0104", date(2028, 12, 31)),),
            ),
        ),
        client_id="lh-plant-portal",
        client_name="岚海石化 DCS/气体检测/人员定位平台（演示）",
    ),
    EnterpriseSpec(
        credit_code="91371122DM2026022G",
        name="日照莒北精细化工有限公司（演示）",
        region_code="371122",
        park="日照海右化工产业园",
        risk_grade="orange",
        areas=(
            AreaSpec("JB-U100", "聚醚多元醇装置", **_RUNNING_FIRE_AREA, max_headcount=3),
            AreaSpec("JB-T200", "液氯储存区", running_unit=True, toxic=True, max_headcount=3, media=("Cl2",)),
            AreaSpec("JB-W900", "综合仓库"),
        ),
        people=(
            PersonSpec("jb.applicant", "孔祥宇", ("applicant",), "JB-0001"),
            PersonSpec("jb.work_leader", "曹文博", ("work_leader",), "JB-0002"),
            PersonSpec(
                "jb.welder", "彭飞", ("worker",), "JB-0003",
                (CertSpec("welder", "T371122-DEMO-0201", date(2031, 6, 30)),),
            ),
            PersonSpec("jb.guardian", "袁莉", ("guardian",), "JB-0004"),
            PersonSpec("jb.analyst", "蒋红梅", ("analyst",), "JB-0005"),
            PersonSpec("jb.unit_leader", "董立新", ("unit_leader",), "JB-0006"),
            PersonSpec("jb.safety_dept", "薛刚", ("safety_dept",), "JB-0007"),
            PersonSpec("jb.principal", "邵国华", ("principal",), "JB-0008"),
            PersonSpec("jb.admin", "范晓燕", ("enterprise_admin",), "JB-0009"),
        ),
        client_id="jb-plant-portal",
        client_name="莒北精化 DCS/气体检测/人员定位平台（演示）",
    ),
)  # fmt: skip

# (region code, person): the emergency-management bureau of each district and zone, then the city's.
REGULATORS = (
    ("371102", PersonSpec("reg.donggang", "林涛", ("regulator",))),
    ("371103", PersonSpec("reg.lanshan", "宋佳", ("regulator",))),
    ("371121", PersonSpec("reg.wulian", "唐瑞", ("regulator",))),
    ("371122", PersonSpec("reg.juxian", "秦海", ("regulator",))),
    ("371171", PersonSpec("reg.etdz", "魏晨", ("regulator",))),
    ("371100-SHT", PersonSpec("reg.shanhaitian", "蔡宁", ("regulator",))),
    ("371100-GX", PersonSpec("reg.hitech", "潘越", ("regulator",))),
    (CITY_CODE, PersonSpec("reg.city", "田志远", ("city_regulator",))),
)

# (region code, client_id, name): regulators' platforms following their region's events (DC-04, measures 59-61).
PLATFORMS = (
    (CITY_CODE, "rz-city-platform", "日照市智慧安全平台（演示）"),
    ("371103", "lanshan-platform", "岚山区应急管理平台（演示）"),
)


# SD-02: an illustrative site checklist ("十个要素" are not published, rules.md §11) of the first enterprise.
SITE_CHECKLIST = (
    ("S01", "作业票已审批且在有效期内", "the permit is approved and within its validity"),
    ("S02", "作业负责人、监护人在岗", "the work leader and the guardian are on post"),
    ("S03", "作业人员持证上岗并已接受安全交底", "workers hold their certificates and were briefed"),
    ("S04", "风险辨识结果和安全措施已落实", "the hazards are identified and the measures in place"),
    ("S05", "能量已隔离，盲板、置换合格", "energy is isolated, blinds are in, purging passed"),
    ("S06", "气体分析合格（涉及时）", "the gas test passed (where one is needed)"),
    ("S07", "个体防护装备齐全完好", "personal protective equipment is complete and sound"),
    ("S08", "消防和应急救援器材到位", "fire-fighting and rescue equipment is in place"),
    ("S09", "作业区域已警戒隔离、标识清楚", "the work area is cordoned off and signposted"),
    ("S10", "视频监控或人员定位覆盖作业点", "video or positioning covers the work point"),
)


# --- creating what is missing ---------------------------------------------------------------------


@dataclass
class Seeder:
    """Finds or creates demo objects in one session, counting what it created; later steps read its maps."""

    session: Session
    created: Counter[str] = field(default_factory=Counter)
    regions: dict[str, Region] = field(default_factory=dict)
    parks: dict[str, ChemicalPark] = field(default_factory=dict)
    enterprises: dict[str, Enterprise] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    _password_hash: str | None = None

    def password_hash(self) -> str:
        """The demo password's hash, computed once per run (Argon2 is slow on purpose)."""
        if self._password_hash is None:
            self._password_hash = hash_secret(DEMO_PASSWORD)
        return self._password_hash

    def ensure(
        self, label: str, model: type[T], key: dict[str, Any], *, scope: dict[str, Any], **values: Any
    ) -> T:
        """The `model` row matching `key`; when there is none, create it from `key` and `values` and record it
        in the audit chain of `scope` (enterprise_id and/or region_id)."""
        found = self.session.scalar(sa.select(model).filter_by(**key))
        if found is not None:
            return found
        obj = model(**key, **values)
        self.session.add(obj)
        self.session.flush()
        self.created[label] += 1
        audit.record(
            self.session,
            kind=f"{label}.created",
            actor=SYSTEM,
            subject_type=label,
            subject_id=obj.id,  # type: ignore[attr-defined]
            data={"source": "seed-demo", **key},
            **scope,
        )
        return obj

    def card_free(self, card: str | None) -> str | None:
        """The card id if nobody holds it yet (an administrator may have handed it to someone else)."""
        if card is None:
            return None
        taken = self.session.scalar(sa.select(Person.id).where(Person.positioning_card_id == card))
        return None if taken else card


def _regions(seeder: Seeder) -> None:
    for spec in REGIONS:
        parent = seeder.regions[spec.parent_code] if spec.parent_code else None
        seeder.regions[spec.code] = seeder.ensure(
            "region",
            Region,
            {"code": spec.code},
            scope={"region_id": parent.id if parent else None},
            name=spec.name,
            name_en=spec.name_en,
            level=spec.level,
            parent_id=parent.id if parent else None,
        )
    for name, region_code in PARKS:
        region = seeder.regions[region_code]
        seeder.parks[name] = seeder.ensure(
            "park", ChemicalPark, {"name": name}, scope={"region_id": region.id}, region_id=region.id
        )


def _person(seeder: Seeder, spec: PersonSpec, *, enterprise: Enterprise | None, region: Region) -> None:
    scope = {"enterprise_id": enterprise.id if enterprise else None, "region_id": region.id}
    person = seeder.ensure(
        "person",
        Person,
        {"username": spec.username},
        scope=scope,
        name=spec.name,
        password_hash=seeder.password_hash(),
        roles=list(spec.roles),
        enterprise_id=enterprise.id if enterprise else None,
        region_id=None if enterprise else region.id,
        positioning_card_id=seeder.card_free(spec.card),
        departments=list(spec.departments),
        created_at=clock.now(),
    )
    seeder.people[spec.username] = person
    for cert in spec.certificates:
        seeder.ensure(
            "certificate",
            Certificate,
            {"kind": cert.kind, "number": cert.number},
            scope=scope,
            person_id=person.id,
            expires_on=cert.expires_on,
        )


def _enterprises(seeder: Seeder) -> None:
    for spec in ENTERPRISES:
        region = seeder.regions[spec.region_code]
        enterprise = seeder.ensure(
            "enterprise",
            Enterprise,
            {"credit_code": spec.credit_code},
            scope={"region_id": region.id},
            name=spec.name,
            region_id=region.id,
            park_id=seeder.parks[spec.park].id,
            risk_grade=spec.risk_grade,
            created_at=clock.now(),
        )
        seeder.enterprises[spec.credit_code] = enterprise
        scope = {"enterprise_id": enterprise.id, "region_id": enterprise.region_id}
        for area in spec.areas:
            seeder.ensure(
                "area",
                PlantArea,
                {"enterprise_id": enterprise.id, "code": area.code},
                scope=scope,
                name=area.name,
                running_unit=area.running_unit,
                flammable=area.flammable,
                explosive=area.explosive,
                toxic=area.toxic,
                fire_explosion_area=area.fire_explosion_area,
                max_headcount=area.max_headcount,
                major_hazard=area.major_hazard,
                dike_code=area.dike_code,
                media=list(area.media),
            )
        for person in spec.people:
            _person(seeder, person, enterprise=enterprise, region=region)
        # HR-02: the principal leader is on the enterprise's record with its regulator, not only a role.
        leader = next((seeder.people[p.username] for p in spec.people if "principal" in p.roles), None)
        if leader is not None and enterprise.principal_id is None:
            enterprise.principal_id, enterprise.principal_since = leader.id, clock.now()
        seeder.ensure(
            "integration_client",
            IntegrationClient,
            {"client_id": spec.client_id},
            scope=scope,
            secret_hash=seeder.password_hash(),
            name=spec.client_name,
            enterprise_id=enterprise.id,
            created_at=clock.now(),
        )


def _regulators(seeder: Seeder) -> None:
    for region_code, spec in REGULATORS:
        _person(seeder, spec, enterprise=None, region=seeder.regions[region_code])


def _platforms(seeder: Seeder) -> None:
    for region_code, client_id, name in PLATFORMS:
        region = seeder.regions[region_code]
        seeder.ensure(
            "integration_client",
            IntegrationClient,
            {"client_id": client_id},
            scope={"region_id": region.id},
            secret_hash=seeder.password_hash(),
            name=name,
            region_id=region.id,
            created_at=clock.now(),
        )


def _checklists(seeder: Seeder) -> None:
    enterprise = seeder.enterprises[ENTERPRISES[0].credit_code]
    seeder.ensure(
        "checklist",
        EnterpriseChecklist,
        {"enterprise_id": enterprise.id, "kind": "site"},
        scope={"enterprise_id": enterprise.id, "region_id": enterprise.region_id},
        items=[{"code": code, "text_zh": zh, "text_en": en} for code, zh, en in SITE_CHECKLIST],
        updated_at=clock.now(),
    )


# Run in order inside one transaction; append a step to seed more (see the module docstring).
STEPS: tuple[Callable[[Seeder], None], ...] = (_regions, _enterprises, _regulators, _platforms, _checklists)


# --- what it prints -------------------------------------------------------------------------------


def _base_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('PORT') or '8000'}"


def _curl(base_url: str, path: str, body: str) -> str:
    return f"    curl -s -X POST {base_url}{path} -H 'Content-Type: application/json' -d '{body}'"


def accounts() -> Iterable[tuple[str, tuple[str, ...], str]]:
    """Every demo login as (username, roles, where it belongs), in the order the table prints them."""
    regions = {spec.code: spec.name for spec in REGIONS}
    for spec in ENTERPRISES:
        for person in spec.people:
            yield person.username, person.roles, spec.name
    for region_code, person in REGULATORS:
        yield person.username, person.roles, regions[region_code]


def _report(created: Counter[str]) -> list[str]:
    base_url = _base_url()
    if created:
        counts = ", ".join(f"{label} {n}" for label, n in created.items())
        lines = [f"演示数据已创建 / demo data created: {counts}"]
    else:
        lines = ["演示数据已存在，未新建任何记录 / demo data already present: nothing was created"]
    lines += [
        "",
        f"警告：所有演示账号的密码和客户端密钥都是 {DEMO_PASSWORD}，仅供演示，切勿用于生产环境。",
        f"WARNING: every demo account password and client secret is {DEMO_PASSWORD}: demo data only, "
        "never use these accounts in production.",
        "",
        f"登录方式 / how to log in (password {DEMO_PASSWORD}):",
    ]
    for username, roles, tenant in accounts():
        lines.append(f"  {username:<22} {','.join(roles):<18} {tenant}")
        lines.append(
            _curl(
                base_url,
                "/api/v1/auth/login",
                f'{{"username": "{username}", "password": "{DEMO_PASSWORD}"}}',
            )
        )
    lines += ["", f"集成客户端 / integration clients (client secret {DEMO_PASSWORD}):"]
    clients = [(spec.client_id, "integration", spec.name) for spec in ENTERPRISES]
    clients += [(client_id, "regulator_platform", name) for _, client_id, name in PLATFORMS]
    for client_id, role, name in clients:
        lines.append(f"  {client_id:<22} {role:<18} {name}")
        lines.append(
            _curl(
                base_url,
                "/api/v1/auth/token",
                f'{{"grant_type": "client_credentials", "client_id": "{client_id}", '
                f'"client_secret": "{DEMO_PASSWORD}"}}',
            )
        )
    lines += [
        "",
        "监管平台读取本辖区事件流 / a regulator's platform follows its region's events (its access_token above):",
        f'    curl -s "{base_url}/api/v1/regulator/events?after=0&limit=50" -H "Authorization: Bearer $TOKEN"',
    ]
    return lines


def seed() -> list[str]:
    """Create whatever demo data is missing in one transaction; returns the lines to print (the login table)."""
    if current_app.config["PERMIT_CONFIG"].env == "production":
        raise click.ClickException(
            "演示数据含公开的密码，生产环境拒绝写入 / the demo data has published passwords: "
            "refused with PERMIT_ENV=production"
        )
    with transaction() as session:
        seeder = Seeder(session)
        for step in STEPS:
            step(seeder)
    return _report(seeder.created)
