"""General rules G-01..G-13, SD-01, and the consent / freeze / risk-grade path (HR-01/02, FZ-02, RG-02)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from workflows import get_workflow
from workflows.model import Area, CrewMember, LinkedPermit, Measure, OnSiteClaim, Signature
from workflows.rules import RuleViolation, on_site
from workflows.states import State

from .factories import (
    APPLICANT,
    GUARDIAN,
    LEADER,
    NOW,
    SYSTEM,
    WORKER,
    WORKER_CERTIFICATES,
    actor,
    check,
    ctx,
    fire,
    freeze,
    neighbour,
    permit,
)

HW = get_workflow("hot_work")


def test_G_01_blocks_submit_without_hazard_analysis() -> None:
    assert "G-01" in check(permit(risk_analysis=""), "submit")
    assert "G-01" in check(permit(measures=()), "submit")


def test_G_01_passes_with_analysis_and_measures() -> None:
    assert check(permit(), "submit") == set()


def test_G_02_blocks_approval_with_unconfirmed_measure() -> None:
    p = permit(
        state=State.submitted, measures=(Measure("M1", "isolate"), Measure("M2", "n/a", involved=False))
    )
    assert "G-02" in check(p, "approve")


def test_G_02_passes_when_every_involved_measure_is_confirmed() -> None:
    p = permit(
        state=State.submitted, measures=(Measure("M1", "isolate", True, "p-x"), Measure("M2", "n/a", False))
    )
    assert "G-02" not in check(p, "approve")


def test_G_03_blocks_a_job_involving_another_type_without_its_permit() -> None:
    assert "G-03" in check(permit(facts={"also_involves": ["confined_space"]}), "submit")


def test_G_03_passes_with_the_linked_permit() -> None:
    linked = (LinkedPermit("cs-1", "SX-1", "confined_space", State.submitted),)
    assert "G-03" not in check(permit(facts={"also_involves": ["confined_space"]}, linked=linked), "submit")


def test_G_04_blocks_cross_operation_without_coordinator() -> None:
    p = permit(state=State.submitted)
    assert "G-04" in check(p, "approve", nearby=(neighbour("height"),))


def test_G_04_passes_with_coordinator_and_risk_analysis() -> None:
    facts = {"cross_operation_coordinator": "Zhang", "cross_operation_risk_analysis": "done"}
    p = permit(state=State.submitted, facts=facts)
    assert "G-04" not in check(p, "approve", nearby=(neighbour("height"),))
    assert "G-04" not in check(
        permit(state=State.submitted), "approve", nearby=(neighbour("height", area_id="far"),)
    )


@pytest.mark.parametrize("permit_type", ["hot_work", "lifting"])
def test_G_05_blocks_activation_until_every_worker_signed(permit_type: str) -> None:
    p = permit(permit_type, State.briefed)
    unsigned = replace(
        p, signatures=tuple(s for s in p.signatures if not (s.kind == "briefing" and s.role == "worker"))
    )
    assert "G-05" in check(unsigned, "activate")


def test_G_05_blocks_worker_signing_before_the_briefer() -> None:
    p = permit(state=State.approved)
    with pytest.raises(RuleViolation) as exc:
        fire(p, "brief", actor("worker", person_id=WORKER))
    assert exc.value.rule == "G-05"
    with pytest.raises(RuleViolation, match="G-05"):
        fire(p, "brief", actor("worker", person_id="p-stranger"))


def test_G_05_briefing_stays_in_place_until_all_signed() -> None:
    p = fire(permit(state=State.approved), "brief", actor("work_leader", person_id=LEADER))
    assert p.state == State.approved
    p = fire(p, "brief", actor("worker", person_id=WORKER))
    assert p.state == State.briefed
    assert "G-05" not in check(p, "activate")


def test_G_06_an_area_id_or_a_card_alone_is_no_evidence() -> None:
    p = permit(state=State.submitted)
    nothing = OnSiteClaim(own_card="C1")
    assert "G-06" in check(p, "approve", payload={"area_id": "area-1"}, on_site=nothing)
    assert "G-06" in check(p, "approve", payload={"card_id": "C1"}, on_site=replace(nothing, cited_card="C1"))
    assert "G-06" in check(p, "approve", payload={}, on_site=None)


def test_G_06_a_card_that_is_not_the_signers_own_is_refused_even_when_the_signer_is_seen() -> None:
    p = permit(state=State.submitted)
    claim = OnSiteClaim(own_card="C-approver", cited_card="C-worker", card_seen_at=NOW)
    assert "G-06" in check(p, "approve", payload={"card_id": "C-worker"}, on_site=claim)
    assert "G-06" not in check(
        p, "approve", payload={"card_id": "C-approver"}, on_site=replace(claim, cited_card="C-approver")
    )


@pytest.mark.parametrize(
    ("claim", "kind"),
    [
        (OnSiteClaim(own_card="C1", card_seen_at=NOW - timedelta(minutes=10)), "card_sighting"),
        (OnSiteClaim(position_given=True, has_boundary=True, inside=True, accuracy_m=10), "position_fix"),
        (OnSiteClaim(declared=True, exempt=True), "declared"),
        # strongest first: the card outranks a fix and a declaration
        (
            OnSiteClaim(
                own_card="C1",
                card_seen_at=NOW,
                position_given=True,
                has_boundary=True,
                inside=True,
                accuracy_m=1,
                declared=True,
                exempt=True,
            ),
            "card_sighting",
        ),
    ],
)
def test_G_06_evidence_strongest_first(claim: OnSiteClaim, kind: str) -> None:
    assert (
        on_site.judge(
            claim,
            NOW,
            {"card_evidence_minutes": 10, "position_accuracy_max_m": 10},
            signer=("审批人", "approver"),
        )
        == kind
    )


@pytest.mark.parametrize(
    ("claim", "missing"),
    [
        (
            OnSiteClaim(own_card="C1", card_seen_at=NOW - timedelta(minutes=10, seconds=1)),
            "has not been seen",
        ),
        (OnSiteClaim(), "no positioning card on record"),
        (OnSiteClaim(position_given=True, has_boundary=False), "no boundary"),
        (OnSiteClaim(position_given=True, has_boundary=True, inside=None, accuracy_m=1), "incomplete"),
        (OnSiteClaim(position_given=True, has_boundary=True, inside=True), "must state its accuracy"),
        (
            OnSiteClaim(position_given=True, has_boundary=True, inside=True, accuracy_m=10.5),
            "worse than the limit",
        ),
        (OnSiteClaim(position_given=True, has_boundary=True, inside=False, accuracy_m=1), "outside"),
        (OnSiteClaim(declared=True, exempt=False), "no positioning exemption"),
        (OnSiteClaim(declared=False, exempt=True), "the area is exempt: declare presence"),
    ],
)
def test_G_06_a_refusal_names_what_is_missing(claim: OnSiteClaim, missing: str) -> None:
    found = on_site.judge(
        claim,
        NOW,
        {"card_evidence_minutes": 10, "position_accuracy_max_m": 10},
        signer=("审批人", "approver"),
    )
    assert found.rule_id == "G-06" and missing in found.en


def test_G_06_the_approval_keeps_what_the_request_said() -> None:
    p = permit(state=State.submitted)
    evidence = {"area_id": "area-1", "position": {"x": 10.0, "y": 20.5}}
    out = HW.fire(p, "approve", ctx(actor("unit_leader")), evidence)
    assert out.state == State.approved
    assert out.signature is not None and dict(out.signature.evidence) == evidence
    assert out.signature.at == NOW and out.signature.person_id == "p-unit_leader"


def test_G_07_blocks_void_without_reason() -> None:
    assert "G-07" in check(permit(state=State.active), "void", payload={})


def test_G_07_void_with_reason_asks_for_reissue() -> None:
    out = HW.fire(
        permit(state=State.active), "void", ctx(actor("applicant", person_id=APPLICANT)), {"reason": "scope"}
    )
    assert out.state == State.voided and "reissue_draft" in out.effects


def test_G_08_blocks_suspend_without_reason_and_resume_without_reconfirmation() -> None:
    assert "G-08" in check(permit(state=State.active), "suspend", payload={})
    p = permit(state=State.suspended)
    assert "G-08" in check(p, "resume", payload={})


def test_G_08_passes_with_reason_and_reconfirmed_conditions() -> None:
    assert check(permit(state=State.active), "suspend") == set()
    assert check(permit(state=State.suspended), "resume") == set()


def test_G_08_temporary_power_in_running_fire_area_needs_a_fresh_test_to_resume() -> None:
    area = Area("area-1", running_unit=True, fire_explosion_area=True)
    p = permit("temporary_power", State.suspended, area=area, suspended_at=NOW - timedelta(minutes=5))
    assert "G-08" in check(p, "resume", now=NOW + timedelta(minutes=40))
    p = fire(p, "record_gas_test")
    assert "G-08" not in check(p, "resume")


def test_G_09_blocks_applicant_approving_own_permit() -> None:
    p = permit(state=State.submitted)
    assert "G-09" in check(p, "approve", actor("unit_leader", person_id=APPLICANT))


def test_G_09_blocks_guardian_who_is_also_worker() -> None:
    members = (*permit().crew, CrewMember(GUARDIAN, "worker", certificates=WORKER_CERTIFICATES))
    assert "G-09" in check(permit(state=State.submitted, crew=members), "approve")


def test_G_09_blocks_second_approval_by_same_person_or_role() -> None:
    p = permit(state=State.submitted, job_kind="leak_plugging", consented=True)
    p = fire(p, "approve", actor("unit_leader", person_id="p-boss"))
    assert p.state == State.submitted
    assert "G-09" in check(p, "approve", actor("principal", "unit_leader", person_id="p-boss"))
    assert "G-09" in check(p, "approve", actor("unit_leader", person_id="p-other"))


def test_G_09_passes_for_a_separate_approver() -> None:
    assert "G-09" not in check(permit(state=State.submitted), "approve")


@pytest.mark.parametrize(
    ("permit_type", "facts", "role"),
    [
        ("hot_work", {}, "unit_leader"),
        ("hot_work", {"fire_explosion_area": True}, "safety_dept"),
        ("hot_work", {"fire_explosion_area": True, "on_running_equipment": True}, "leader_in_charge"),
        ("confined_space", {}, "unit_leader"),
        ("blind_plate", {}, "unit_leader"),
        ("height", {"height_m": 3}, "unit_leader"),
        ("height", {"height_m": 10}, "specialist_dept"),
        ("height", {"height_m": 40, "communication_equipment": "radio"}, "plant_manager"),
        ("lifting", {"load_t": 20}, "specialist_dept"),
        ("lifting", {"load_t": 150, "lifting_plan": "plan-1"}, "plant_manager"),
        ("temporary_power", {}, "power_supplier"),
        ("excavation", {}, "specialist_dept"),
        ("road_closure", {}, "specialist_dept"),
    ],
)
def test_G_10_approver_role_per_type_and_grade(permit_type: str, facts: dict, role: str) -> None:
    extra = {"continuous_gas_monitoring": True, "written_plan": "p", "video_recording": True}
    p = permit(permit_type, facts={**facts, **extra} if permit_type == "hot_work" else facts)
    p = fire(p, "submit")
    if permit_type in ("excavation", "road_closure"):
        p = permit(permit_type, State.countersigned, facts=facts)
    assert "G-10" in check(p, "approve", actor("nobody_role"))
    assert check(p, "approve", actor(role)) == set()


def test_G_11_blocks_acceptance_without_site_restored_and_close_before_acceptance() -> None:
    p = permit(state=State.completed)
    assert "G-11" in check(p, "accept", payload={})
    assert "G-11" in check(p, "close")


def test_G_11_passes_after_acceptance() -> None:
    p = fire(permit(state=State.completed), "accept")
    assert p.state == State.completed
    assert check(p, "close") == set()


def test_G_12_blocks_window_longer_than_max_validity() -> None:
    p = permit(valid_until=NOW + timedelta(hours=80))
    assert "G-12" in check(p, "submit")
    v = HW.grading.validate_window(NOW, NOW + timedelta(hours=9), "level1", {})
    assert v is not None and v.rule_id == "G-12"
    assert HW.grading.validate_window(NOW, NOW - timedelta(hours=1), "level2", {}) is not None


def test_G_12_passes_within_max_validity_and_policy_override() -> None:
    assert HW.grading.validate_window(NOW, NOW + timedelta(hours=72), "level2", {}) is None
    bp = get_workflow("blind_plate")
    assert bp.grading.validate_window(NOW, NOW + timedelta(hours=30), None, {}) is not None
    assert (
        bp.grading.validate_window(
            NOW, NOW + timedelta(hours=30), None, {}, {"max_validity_hours": {"blind_plate": 48}}
        )
        is None
    )


def test_G_12_blocks_activation_outside_window_and_expire_before_end() -> None:
    p = permit(state=State.briefed)
    assert "G-12" in check(p, "activate", now=p.valid_until + timedelta(seconds=1))
    assert "G-12" in check(p, "expire", SYSTEM)


def test_G_12_expire_by_system_only_after_valid_until() -> None:
    p = permit(state=State.active)
    later = p.valid_until + timedelta(minutes=1)
    assert check(p, "expire", SYSTEM, now=later) == set()
    assert "ROLE" in check(p, "expire", actor("safety_dept"), now=later)
    assert HW.fire(p, "expire", ctx(SYSTEM, now=later)).state == State.expired


def test_SD_01_blocks_activation_without_approval_signature() -> None:
    p = permit(state=State.briefed)
    unapproved = replace(p, signatures=tuple(s for s in p.signatures if s.kind != "approval"))
    assert "SD-01" in check(unapproved, "activate")
    assert "SD-01" not in check(p, "activate")


def test_SD_01_blocks_activation_without_guardian() -> None:
    p = permit("height", State.briefed)
    assert "SD-01" in check(replace(p, crew=tuple(m for m in p.crew if m.role != "guardian")), "activate")
    assert "SD-01" not in check(p, "activate")


def test_HR_01_blocks_high_risk_job_without_consent() -> None:
    assert "HR-01" in check(
        permit(state=State.submitted, job_kind="tank_cleaning"), "approve", actor("principal")
    )


def test_HR_01_blocks_red_enterprise_and_upgrade_freeze_without_consent() -> None:
    p = permit(state=State.submitted)
    assert "HR-01" in check(p, "approve", enterprise_risk_grade="red")
    assert "HR-01" in check(p, "approve", freezes=(freeze("upgrade", "hot_work"),))
    assert "HR-01" not in check(p, "approve", freezes=(freeze("upgrade", "height"),))


def test_HR_01_passes_with_consent() -> None:
    p = permit(state=State.submitted, consented=True)
    assert "HR-01" not in check(p, "approve", enterprise_risk_grade="red")


def test_HR_02_high_risk_job_needs_principal_in_addition() -> None:
    p = permit(state=State.submitted, job_kind="leak_plugging", consented=True)
    p = fire(p, "approve", actor("unit_leader"))
    assert p.state == State.submitted  # the principal has not approved yet
    assert "HR-02" in check(p, "approve", actor("safety_dept"))
    p = fire(p, "approve", actor("principal"))
    assert p.state == State.approved


def test_HR_02_upgrade_freeze_needs_principal_and_raises_hot_work_grade() -> None:
    p = permit(state=State.submitted, consented=True)
    frozen = (freeze("upgrade", "hot_work"),)
    out = HW.fire(p, "approve", ctx(actor("safety_dept"), freezes=frozen), {"area_id": "area-1"})
    assert out.grade == "level1" and out.state == State.submitted
    p = replace(p, signatures=(*p.signatures, out.signature))
    assert "HR-02" in check(p, "approve", actor("unit_leader"), freezes=frozen)
    assert check(p, "approve", actor("principal"), freezes=frozen) == set()


def test_FZ_02_strict_freeze_blocks_approve_and_activate() -> None:
    frozen = (freeze("strict", "hot_work"),)
    assert "FZ-02" in check(permit(state=State.submitted), "approve", freezes=frozen)
    assert "FZ-02" in check(permit(state=State.briefed), "activate", freezes=frozen)
    assert "FZ-02" in check(permit(state=State.suspended), "resume", freezes=frozen)


def test_RG_02_FZ_02_work_stopped_for_want_of_consent_resumes_only_with_it() -> None:
    p = permit(state=State.suspended)
    assert "HR-01" in check(p, "resume", enterprise_risk_grade="red")
    assert "HR-01" in check(p, "resume", freezes=(freeze("upgrade", "hot_work"),))
    assert check(replace(p, consented=True), "resume", enterprise_risk_grade="red") == set()
    assert check(p, "resume", enterprise_risk_grade="yellow") == set()


def test_FZ_02_strict_freeze_of_other_types_lets_pass() -> None:
    frozen = (freeze("strict", "lifting", "height"),)
    assert "FZ-02" not in check(permit(state=State.submitted), "approve", freezes=frozen)
    assert "FZ-02" not in check(permit(state=State.briefed), "activate", freezes=frozen)


def test_FZ_03_upgrade_lacking_names_what_work_approved_before_an_upgrade_freeze_misses() -> None:
    under = ctx(freezes=(freeze("upgrade", "hot_work"),))
    before = permit(state=State.active)  # approved with no freeze in view
    assert {v.rule_id for v in HW.upgrade_lacking(before, under)} == {"HR-01", "SD-01", HW.grading.rule}
    assert HW.upgrade_lacking(before, ctx()) == []  # no freeze, nothing lacking
    grade = HW.grading.effective(before, under)
    (approvers, _rule), _principal = HW.grading.approval_slots(replace(before, grade=grade), under)
    approvals = (
        Signature("approval", approvers[0], LEADER, NOW),
        Signature("approval", "principal", LEADER, NOW),
    )
    others = tuple(s for s in before.signatures if s.kind != "approval")
    upgraded = replace(before, consented=True, grade=grade, signatures=(*others, *approvals))
    assert HW.upgrade_lacking(upgraded, under) == []
    # Approved by the lower grade's approver only: the raised grade's approval is missing.
    assert {
        v.rule_id for v in HW.upgrade_lacking(replace(upgraded, signatures=before.signatures), under)
    } >= {"SD-01"}
    assert {v.rule_id for v in HW.upgrade_lacking(replace(upgraded, consented=False), under)} == {"HR-01"}


def test_RG_02_orange_special_and_level1_notify_the_regulator() -> None:
    p = permit(state=State.submitted, facts={"fire_explosion_area": True})
    out = HW.fire(
        p, "approve", ctx(actor("safety_dept"), enterprise_risk_grade="orange"), {"area_id": "area-1"}
    )
    assert "notify_regulator" in out.effects


def test_RG_02_no_notice_for_level2_or_other_grades() -> None:
    p = permit(state=State.submitted)
    out = HW.fire(
        p, "approve", ctx(actor("unit_leader"), enterprise_risk_grade="orange"), {"area_id": "area-1"}
    )
    assert out.effects == ()
    out = HW.fire(
        permit(state=State.submitted, facts={"fire_explosion_area": True}),
        "approve",
        ctx(actor("safety_dept"), enterprise_risk_grade="yellow"),
        {"area_id": "area-1"},
    )
    assert "notify_regulator" not in out.effects


def test_rule_violation_carries_every_violation_and_allowed_actions() -> None:
    p = permit(state=State.submitted, measures=(Measure("M1", "isolate"),))
    with pytest.raises(RuleViolation) as exc:
        HW.fire(p, "approve", ctx(actor("unit_leader", person_id=APPLICANT), on_site=None), {})
    assert {"G-02", "G-06", "G-09"} <= {v.rule_id for v in exc.value.violations}
    assert exc.value.allowed_actions == ["reject", "cancel", "void"]
    assert all(v.zh and v.en for v in exc.value.violations)


def test_cancel_by_applicant_or_approver_only() -> None:
    p = permit(state=State.approved)
    assert check(p, "cancel") == set()
    assert check(p, "cancel", actor("unit_leader")) == set()
    assert "ROLE" in check(p, "cancel", actor("worker"))
