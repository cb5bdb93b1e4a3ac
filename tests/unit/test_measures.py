"""G-02: the Appendix A measure lists, answered line by line and confirmed item by item, and the earlier practice."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import pytest

from workflows import measures
from workflows.measures import CURRENT, LEGACY
from workflows.model import Measure, PermitData
from workflows.states import State

from .factories import GUARDIAN, TYPES, check, permit

# The number of lines of each form of GB 30871-2022 Appendix A (A.1 ... A.8), counted in the standard.
LINES = {
    "hot_work": 16,
    "confined_space": 15,
    "blind_plate": 11,
    "height": 15,
    "lifting": 20,
    "temporary_power": 14,
    "excavation": 11,
    "road_closure": 4,
}
HOT_WORK_COUNTS = {"A1-02": {"blinds": 2}, "A1-08": {"extinguishers": 4, "fire_blankets": 2, "fire_hoses": 1}}


def answered(
    permit_type: str = "hot_work",
    *,
    involved: Iterable[str] = ("A1-02", "A1-08", "A1-13"),
    confirmed: bool = True,
    skip: Iterable[str] = (),
    added: Iterable[str] = (),
) -> tuple[Measure, ...]:
    """Every listed line answered (the `involved` ones involved, with their counts), confirmed by the guardian."""
    mlist = measures.current(permit_type)
    involved, skip = set(involved), set(skip)
    confirmer = GUARDIAN if confirmed else None
    lines = [
        Measure(
            line.code,
            involved=line.code in involved,
            confirmed_by=confirmer if line.code in involved else None,
            counts=HOT_WORK_COUNTS.get(line.code, {}),
        )
        for line in mlist.lines
        if not line.other and line.code not in skip
    ]
    lines += [
        Measure(measures.added_code(mlist, n), text, True, confirmer) for n, text in enumerate(added, start=1)
    ]
    return tuple(lines)


def filed(state: str = State.draft, permit_type: str = "hot_work", **kw) -> PermitData:
    """A permit of the current list with its measures, advanced to `state` before they are set (as the shell would)."""
    p = permit(permit_type, state=state, measure_list=CURRENT, measures=answered(permit_type))
    return replace(p, measures=answered(permit_type, **kw)) if kw else p


@pytest.mark.parametrize("permit_type", TYPES)
def test_G_02_each_type_lists_its_appendix_a_form_ending_with_other_measures(permit_type) -> None:
    mlist = measures.current(permit_type)

    assert mlist.version == CURRENT
    assert len(mlist.lines) == LINES[permit_type]
    assert f"A.{TYPES.index(permit_type) + 1}" == mlist.form
    assert [line.code for line in mlist.lines] == [
        f"A{TYPES.index(permit_type) + 1}-{n:02d}" for n in range(1, LINES[permit_type] + 1)
    ]
    assert mlist.lines[-1].other and mlist.lines[-1].zh == "其他安全措施"
    assert all(line.zh and line.en for line in mlist.lines)


def test_G_02_hot_work_asks_for_blinds_extinguishers_and_fire_blankets_where_the_form_has_blanks() -> None:
    mlist = measures.current("hot_work")

    assert [c.name for c in mlist.line("A1-02").counts] == ["blinds"]
    assert [c.name for c in mlist.line("A1-08").counts] == ["extinguishers", "fire_blankets", "fire_hoses"]
    assert "加盲板（ ）块" in mlist.line("A1-02").zh and "灭火毯（ ）块" in mlist.line("A1-08").zh


def test_G_02_submit_passes_when_every_line_is_answered_with_its_counts() -> None:
    assert check(filed(), "submit") == set()


def test_G_02_submit_names_each_unanswered_line() -> None:
    p = filed(skip=("A1-04", "A1-11"))

    violation = measures.measures_answered(p, None, {})

    assert violation is not None and violation.rule_id == "G-02"
    assert "A1-04, A1-11" in violation.zh and "A1-04, A1-11" in violation.en
    assert "A1-01" not in violation.en


def test_G_02_a_line_answered_involved_without_its_counts_is_not_ready_for_submit() -> None:
    p = filed()
    lines = tuple(
        Measure(m.code, involved=m.involved, counts={"extinguishers": 4}) if m.code == "A1-08" else m
        for m in p.measures
    )
    violation = measures.measures_answered(replace(p, measures=lines), None, {})

    assert violation is not None and "A1-08 (fire_blankets, fire_hoses)" in violation.en


def test_G_02_a_line_not_involved_asks_neither_counts_nor_confirmer() -> None:
    p = filed(State.submitted, involved=())

    assert measures.measures_answered(p, None, {}) is None
    assert measures.measures_confirmed(p, None, {}) is None


def test_G_02_approval_names_each_involved_line_without_a_confirmer() -> None:
    p = filed(State.submitted, confirmed=False)

    violation = measures.measures_confirmed(p, None, {})

    assert violation is not None and violation.rule_id == "G-02"
    assert violation.en.endswith("A1-02, A1-08, A1-13")
    assert "G-02" in check(p, "approve")


def test_G_02_an_added_line_is_involved_and_needs_its_confirmer() -> None:
    p = filed(State.submitted, added=("动火点下方铺设防火毯",))
    added = next(m for m in p.measures if m.code == "A1-16.1")
    unconfirmed = replace(
        p, measures=(*[m for m in p.measures if m is not added], replace(added, confirmed_by=None))
    )

    assert measures.measures_confirmed(p, None, {}) is None
    violation = measures.measures_confirmed(unconfirmed, None, {})
    assert violation is not None and violation.en.endswith(": A1-16.1")


def test_G_02_one_free_text_line_confirmed_does_not_answer_the_list() -> None:
    p = replace(filed(State.submitted), measures=(Measure("M1", "置换合格", True, GUARDIAN),))

    violation = measures.measures_confirmed(p, None, {})

    assert violation is not None and "A1-01" in violation.en and "A1-15" in violation.en
    assert "G-02" in check(p, "approve")


def test_G_02_a_permit_filed_before_the_lists_keeps_the_earlier_rule() -> None:
    legacy = permit(
        state=State.submitted, measure_list=LEGACY, measures=(Measure("M1", "置换合格", True, GUARDIAN),)
    )
    assert measures.measures_answered(legacy, None, {}) is None
    assert measures.measures_confirmed(legacy, None, {}) is None
    open_line = replace(legacy, measures=(Measure("M1", "置换合格"),))
    assert measures.measures_confirmed(open_line, None, {}).en.endswith(": M1")
    assert measures.measures_confirmed(replace(legacy, measures=()), None, {}) is not None
