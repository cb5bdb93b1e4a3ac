"""SD-02: the enterprise's site checklist binds every permit, its outsourcing checklist contractor work."""

from __future__ import annotations

from dataclasses import replace

from workflows import get_workflow
from workflows.model import ChecklistConfirmation
from workflows.rules import RuleViolation
from workflows.states import State

from .factories import GUARDIAN, actor_for, ctx, payload_for, permit

LISTS = {"site": ("S1", "S2"), "outsourcing": ("O1",)}


def confirmed(*items: tuple[str, str]) -> tuple[ChecklistConfirmation, ...]:
    return tuple(ChecklistConfirmation(kind, code, GUARDIAN) for kind, code in items)


def refusal(p, checklists=LISTS) -> RuleViolation | None:
    """The violation SD-02 raises when `p` is approved under the enterprise's `checklists` (None: approved)."""
    wf = get_workflow(p.type)
    try:
        wf.fire(
            p,
            "approve",
            ctx(actor_for(wf, p, "approve"), checklists=checklists),
            payload_for(wf, p, "approve"),
        )
    except RuleViolation as exc:
        return next((v for v in exc.violations if v.rule_id == "SD-02"), None)
    return None


def test_SD_02_blocks_approval_naming_each_unconfirmed_site_item() -> None:
    p = permit(state=State.submitted, checklist_confirmations=confirmed(("site", "S1")))
    violation = refusal(p)
    assert violation is not None
    assert "S2" in violation.zh and "S2" in violation.en and "S1" not in violation.en
    assert "O1" not in violation.en  # not a contractor: the outsourcing checklist does not apply


def test_SD_02_passes_once_every_site_item_has_a_confirmer() -> None:
    p = permit(state=State.submitted, checklist_confirmations=confirmed(("site", "S1"), ("site", "S2")))
    assert refusal(p) is None


def test_SD_02_contractor_work_also_needs_the_outsourcing_checklist() -> None:
    site_done = permit(
        state=State.submitted,
        contractor=True,
        checklist_confirmations=confirmed(("site", "S1"), ("site", "S2")),
    )
    violation = refusal(site_done)
    assert violation is not None and "O1" in violation.en and "outsourcing" in violation.en
    assert "外包作业八个必查" in violation.zh
    all_done = replace(
        site_done,
        checklist_confirmations=(*site_done.checklist_confirmations, *confirmed(("outsourcing", "O1"))),
    )
    assert refusal(all_done) is None


def test_SD_02_a_confirmation_of_the_wrong_checklist_does_not_count() -> None:
    p = permit(
        state=State.submitted, checklist_confirmations=confirmed(("outsourcing", "S1"), ("site", "S2"))
    )
    violation = refusal(p)
    assert violation is not None and "S1" in violation.en


def test_SD_02_checklists_the_enterprise_has_not_configured_have_nothing_to_confirm() -> None:
    p = permit(state=State.submitted, contractor=True)
    assert refusal(p, checklists={}) is None
    assert refusal(p, checklists={"site": (), "outsourcing": ()}) is None


def test_SD_02_allowed_actions_hide_approval_until_the_checklists_are_confirmed() -> None:
    p = permit(state=State.submitted)
    wf = get_workflow(p.type)
    who = actor_for(wf, p, "approve")
    assert "approve" not in wf.allowed_actions(p, ctx(who, checklists=LISTS))
    done = replace(p, checklist_confirmations=confirmed(("site", "S1"), ("site", "S2")))
    assert "approve" in wf.allowed_actions(done, ctx(who, checklists=LISTS))
