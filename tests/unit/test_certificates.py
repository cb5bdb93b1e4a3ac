"""G-13: the certificate a crew role needs follows from the type and the work, and is checked on the holder's record."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from workflows import get_workflow
from workflows.certificates import last_day
from workflows.model import Certificate, PermitData
from workflows.rules import RuleViolation
from workflows.states import State

from .factories import EXPIRY, SIGNALLER, WORKER, check, ctx, permit


def _holding(p: PermitData, person_id: str, *certificates: Certificate) -> PermitData:
    """The permit with one crew member's record holding exactly `certificates`."""
    crew = tuple(replace(m, certificates=certificates) if m.person_id == person_id else m for m in p.crew)
    return replace(p, crew=crew)


def _refusal(p: PermitData, event: str = "submit") -> tuple[str, str]:
    wf = get_workflow(p.type)
    found = [v for v in wf.check(p, event, ctx()) if v.rule_id == "G-13"]
    assert found, f"G-13 expected on {event}"
    return found[0].zh, found[0].en


def test_G_13_a_welder_without_a_welders_certificate_is_refused_by_name() -> None:
    p = _holding(permit(), WORKER, Certificate("electrician", "E-1", EXPIRY))
    zh, en = _refusal(p)
    assert "Worker（作业人）无特种作业操作证（焊接与热切割作业）" in zh
    assert "Worker (worker): holds no special-work certificate: welding and thermal cutting" in en


def test_G_13_an_expired_certificate_is_refused() -> None:
    p = _holding(permit(), WORKER, Certificate("welder", "W-9", date(2025, 1, 31)))
    zh, en = _refusal(p)
    assert "W-9）已于2025-01-31过期" in zh and "expired on 2025-01-31" in en


def test_G_13_a_certificate_ending_before_the_permit_is_refused() -> None:
    """Valid today, but not through the permit's last day (Asia/Shanghai)."""
    p = permit(valid_until=datetime(2025, 3, 6, 2, 0, tzinfo=UTC))
    p = _holding(p, WORKER, Certificate("welder", "W-9", date(2025, 3, 5)))
    zh, en = _refusal(p)
    assert "有效期至2025-03-05，早于作业票有效期结束日2025-03-06" in zh
    assert "valid only until 2025-03-05, before the permit ends on 2025-03-06" in en
    assert "G-13" not in check(_holding(p, WORKER, Certificate("welder", "W-9", date(2025, 3, 6))), "submit")


def test_G_13_a_certificate_without_an_expiry_on_record_is_refused() -> None:
    p = _holding(permit(), WORKER, Certificate("welder", "W-9", None))
    assert "未登记有效期" in _refusal(p)[0]


def test_G_13_the_last_day_is_the_day_in_shanghai_the_validity_ends_in() -> None:
    p = permit()
    midnight = datetime(
        2025, 3, 5, 16, 0, tzinfo=UTC
    )  # 2025-03-06 00:00 in Shanghai: the 5th is the last day
    assert last_day(replace(p, valid_until=midnight)) == date(2025, 3, 5)
    assert last_day(replace(p, valid_until=midnight + timedelta(minutes=1))) == date(2025, 3, 6)


@pytest.mark.parametrize(
    ("methods", "needed"),
    [
        (["electric_welding"], True),
        (["gas_cutting", "grinding"], True),
        (["grinding"], False),
        (["electric_drilling", "sandblasting"], False),
    ],
)
def test_G_13_only_welding_and_cutting_need_the_welders_certificate(methods: list[str], needed: bool) -> None:
    p = _holding(permit(facts={"methods": methods}), WORKER)
    assert ("G-13" in check(p, "submit")) is needed


def test_G_13_the_hot_work_method_is_required_and_a_closed_vocabulary() -> None:
    assert "G-13" in check(permit(facts={"methods": None}), "submit")
    assert "G-14" in check(permit(facts={"methods": ["welding"]}), "submit")  # not a code of the vocabulary
    assert "G-14" in check(permit(facts={"methods": [{"code": "x"}]}), "submit")


@pytest.mark.parametrize(
    ("permit_type", "person_id", "kind"),
    [
        ("temporary_power", WORKER, "electrician"),
        ("lifting", WORKER, "crane_operator"),
        ("lifting", SIGNALLER, "crane_signaller"),
    ],
)
def test_G_13_electricians_crane_operators_and_signallers(
    permit_type: str, person_id: str, kind: str
) -> None:
    p = permit(permit_type)
    assert "G-13" not in check(p, "submit")
    others = tuple(c for m in p.crew if m.person_id == person_id for c in m.certificates if c.kind != kind)
    assert "G-13" in check(_holding(p, person_id, *others), "submit")


def test_G_13_types_without_certified_work_ask_for_none() -> None:
    p = permit("height")
    assert "G-13" not in check(replace(p, crew=tuple(replace(m, certificates=()) for m in p.crew)), "submit")


def test_G_13_submit_reports_the_certificate_it_accepted_the_longest_lasting() -> None:
    older, newer = (
        Certificate("welder", "W-1", date(2026, 1, 1)),
        Certificate("welder", "W-2", date(2028, 1, 1)),
    )
    p = _holding(permit(), WORKER, older, newer, Certificate("electrician", "E-1", EXPIRY))
    out = get_workflow("hot_work").fire(p, "submit", ctx())
    assert [(c.person_id, c.role, c.certificate) for c in out.certified] == [(WORKER, "worker", newer)]


def test_G_13_activation_checks_the_record_again() -> None:
    """A certificate removed from the record after submission stops the work from starting."""
    p = permit(state=State.briefed)
    assert "G-13" not in check(p, "activate")
    zh, _en = _refusal(_holding(p, WORKER), "activate")
    assert "焊接与热切割" in zh
    with pytest.raises(RuleViolation):
        get_workflow("hot_work").fire(_holding(p, WORKER), "activate", ctx())


def test_G_13_the_catalogue_publishes_the_methods_and_the_certificates_they_need() -> None:
    hot_work = get_workflow("hot_work").catalogue()
    methods = next(f for f in hot_work["facts"] if f["name"] == "methods")
    assert (
        methods["required"]
        and {"code": "gas_cutting", "zh": "气割", "en": "gas cutting"} in methods["choices"]
    )
    [need] = hot_work["certificates"]
    assert (need["role"], need["kind"], need["zh"]) == (
        "worker",
        "welder",
        "特种作业操作证（焊接与热切割作业）",
    )
    assert "electric_welding" in need["when"]["any_of"] and "grinding" not in need["when"]["any_of"]
    lifting = get_workflow("lifting").catalogue()["certificates"]
    assert {(n["role"], n["kind"], n["when"]) for n in lifting} == {
        ("worker", "crane_operator", None),
        ("signaller", "crane_signaller", None),
    }


def test_G_13_a_crew_member_not_in_the_role_needs_nothing() -> None:
    """The guardian of a welding job needs no welder's certificate."""
    p = permit()
    guardian = next(m for m in p.crew if m.role == "guardian")
    assert guardian.certificates == () and "G-13" not in check(p, "submit")
