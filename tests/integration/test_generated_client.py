"""A client generated from openapi/openapi.yaml with openapi-python-client walks a permit's life, with no header
added by hand: every role logs in through it, and If-Match, ETag and 304 come from what the document declares."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.api.permit_flows import APPROVER, POSITION_INSIDE, measure_answers
from tests.conftest import DEFAULT_NOW
from tests.factories import PASSWORD, World
from workflows import measures

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.yaml"
PACKAGE = "permit_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], ModuleType]]:
    """The client package generated from the committed document; answers its modules by dotted name."""
    out = tmp_path_factory.mktemp("client")
    env = {
        **os.environ,
        "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }  # its ruff hook
    run = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(SPEC),
            "--output-path",
            str(out / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Warning" not in run.stdout, run.stdout  # nothing of the document was left out of the client
    sys.path.insert(0, str(out))
    yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    sys.path.remove(str(out))
    for module in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[module]


class Walk:
    """The generated client in a person's hands: log in, call an operation, expect a status."""

    def __init__(self, pkg: Callable[[str], ModuleType], base_url: str, world: World) -> None:
        self.pkg, self.base_url, self.world = pkg, base_url, world
        self.models = pkg("models")
        self.clients: dict[str, Any] = {}

    def as_(self, role: str) -> Any:
        """An authenticated client of the world's `role`, logged in through the client's `login` operation."""
        if role not in self.clients:
            anonymous = self.pkg("client").Client(base_url=self.base_url, raise_on_unexpected_status=True)
            person = self.world.people[role]
            body = self.models.Login(username=person.username, password=PASSWORD)
            answer = self.pkg("api.auth.login").sync_detailed(client=anonymous, body=body)
            assert answer.status_code == 200, answer.content
            self.clients[role] = self.pkg("client").AuthenticatedClient(
                base_url=self.base_url, token=answer.parsed.access_token, raise_on_unexpected_status=True
            )
        return self.clients[role]

    def call(self, operation: str, role: str, status: int = 200, **kwargs: Any) -> Any:
        """Call `operation` (module api.<tag>.<name>) as `role`; the answer must have `status`."""
        module = self.pkg(f"api.{operation}")
        answer = module.sync_detailed(client=self.as_(role), **kwargs)
        assert answer.status_code == status, (operation, answer.status_code, answer.content)
        return answer


def confirm_measures(walk: Walk, permit: Any, etag: str) -> str:
    """Record the unit leader as the confirmer of every involved measure line (G-02); answers the new ETag."""
    other = measures.current(permit.type_.value).other.code  # 其他安全措施: answered by the added lines
    for line in permit.measures:
        if line.involved and not line.confirmed_by and line.code != other:
            answer = walk.call(
                "measures.set_permit_measure_confirmation",
                "applicant",
                permit_id=permit.id,
                code=line.code,
                body=walk.models.MeasureConfirmationIn(confirmed_by=walk.world.people["unit_leader"].id),
                if_match=etag,
            )
            etag = answer.headers["ETag"]
    return etag


def hot_work_draft(m: ModuleType, world: World) -> Any:
    """A hot-work draft in the standard scene, built from the generated models only."""
    people = world.people
    return m.HotWorkPermitCreate(
        type_="hot_work",
        area_id=world.area.id,
        title="常减压装置 E-101 换热器出口管线补焊",
        valid_from=DEFAULT_NOW,
        valid_until=DEFAULT_NOW + timedelta(hours=6),
        risk_analysis="可燃气体泄漏、火花飞溅；已隔离并置换",
        high_risk_kind=m.PermitHighRiskKind.NONE,  # HR-01: not Plan-27 work
        facts=m.HotWorkFacts(methods=[m.HotWorkFactsMethodsType0Item.ELECTRIC_WELDING]),
        measures=[
            m.MeasureIn.from_dict(line) for line in measure_answers("hot_work")
        ],  # G-02: every line answered
        crew=[
            m.CrewIn(person_id=people["work_leader"].id, role=m.CrewRole.WORK_LEADER),
            # G-13: the worker's record holds the welder's certificate; the applicant declares none
            m.CrewIn(person_id=people["worker"].id, role=m.CrewRole.WORKER),
            m.CrewIn(person_id=people["guardian"].id, role=m.CrewRole.GUARDIAN),
        ],
    )


def test_generated_client_walks_a_hot_work_permit_to_closed(generated, live_url, factory):
    world = factory.world()
    walk = Walk(generated, live_url, world)
    m = walk.models

    created = walk.call("permits.create_permit", "applicant", 201, body=hot_work_draft(m, world))
    permit = created.parsed
    assert permit.state == m.PermitState.DRAFT and permit.type_ == m.PermitType.HOT_WORK
    assert created.headers["Location"] == f"/api/v1/permits/{permit.id}"

    read = walk.call("permits.get_permit", "applicant", permit_id=permit.id)
    walk.call("permits.get_permit", "applicant", 304, permit_id=permit.id, if_none_match=read.headers["ETag"])
    edited = walk.call(
        "permits.update_permit",
        "applicant",
        permit_id=permit.id,
        body=m.PermitUpdate(work_content="更换法兰并补焊"),
        if_match=read.headers["ETag"],
    )
    assert edited.parsed.version == permit.version + 1

    evidence = m.Evidence(area_id=world.area.id, position=m.EvidencePositionType0.from_dict(POSITION_INSIDE))
    gas = m.GasTestIn(
        sampled_at=DEFAULT_NOW,
        readings=[m.GasReadingIn(gas="CH4", value=0.1, unit=m.DetectorUnit("%vol"))],
    )
    # Each step of the life, by the role GB 30871 names; extend the walk here as the rules grow.
    steps: list[tuple[str, str, Any, str]] = [
        ("submit_permit", "applicant", m.ActionBody(), "submitted"),
        ("approve_permit", "approver", m.ApproveBody(evidence=evidence), "approved"),
        ("record_permit_gas_test", "analyst", gas, "approved"),
        ("brief_permit", "work_leader", m.ActionBody(), "approved"),
        ("brief_permit", "worker", m.ActionBody(), "briefed"),
        ("shift_check_permit", "shift_leader", m.ActionBody(), "briefed"),
        ("activate_permit", "work_leader", m.ActivateBody(), "active"),
        ("complete_permit", "work_leader", m.ActionBody(), "completed"),
        ("accept_permit", "unit_leader", m.AcceptBody(site_restored=True), "completed"),
        ("close_permit", "unit_leader", m.ActionBody(), "closed"),
    ]
    etag = edited.headers["ETag"]
    answer = edited
    for operation, role, body, state in steps:
        if operation == "approve_permit":  # G-02: each involved line confirmed, line by line, before approval
            etag = confirm_measures(walk, answer.parsed, etag)
        if role == "approver":  # GB B.1: the grade the service derived names the approver
            role = APPROVER[(answer.parsed.type_.value, answer.parsed.grade.value)]
        answer = walk.call(f"permits.{operation}", role, permit_id=permit.id, body=body, if_match=etag)
        assert answer.parsed.state == m.PermitState(state), (operation, answer.parsed.state)
        etag = answer.headers["ETag"]
    assert etag == f'"{answer.parsed.version}"'
