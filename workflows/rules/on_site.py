"""G-06 / HR-02: whether what the shell found about a signer's presence is evidence that they are on site.

The shell gathers the facts (where positioning last placed the signer's own card, whether a position fix lies
inside the area's boundary, whether the regulator exempted the area); the core weighs them, strongest first:
the signer's own card seen in the area within the policy window (`card_sighting`), a position fix inside the
boundary with a stated accuracy within the policy limit (`position_fix`), a presence declared in an area the
regulator exempted for lack of positioning coverage (`declared`). Anything else is refused, naming what is
missing: an area id alone, or coordinates with no boundary to test them against, prove nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from workflows.model import OnSiteClaim
from workflows.rules import Violation

EVIDENCE_KINDS = ("card_sighting", "position_fix", "declared")  # strongest first


def judge(
    claim: OnSiteClaim | None, now: datetime, policy: Mapping[str, Any], *, signer: tuple[str, str]
) -> str | Violation:
    """The kind of evidence the claim amounts to, or a G-06 violation naming every missing piece.

    `signer` names who signs, e.g. ("审批人", "approver"), in the messages.
    """
    if claim is None:
        claim = OnSiteClaim()
    who_zh, who_en = signer
    if claim.cited_card is not None and claim.cited_card != claim.own_card:
        return Violation(
            "G-06",
            f"定位卡{claim.cited_card}不是{who_zh}本人的定位卡，不能证明{who_zh}在现场",
            f"positioning card {claim.cited_card} is not the {who_en}'s own: it is no evidence that the "
            f"{who_en} is on site",
        )
    minutes = policy.get("card_evidence_minutes", 10)
    if claim.card_seen_at is not None and claim.card_seen_at >= now - timedelta(minutes=minutes):
        return "card_sighting"
    missing: list[tuple[str, str]] = [_card_missing(claim, minutes, who_zh, who_en)]
    if claim.position_given:
        problem = _position_problem(claim, policy)
        if problem is None:
            return "position_fix"
        missing.append(problem)
    else:
        missing.append(("未提供定位坐标", "no position fix was given"))
    if claim.declared and claim.exempt:
        return "declared"
    if claim.declared or not claim.exempt:
        missing.append(
            (
                "该区域没有监管部门登记的定位豁免，不接受自报在场",
                "the regulator has recorded no positioning exemption for the area, so a declared presence "
                "is not accepted",
            )
        )
    else:
        missing.append(("该区域已获定位豁免，可自报在场（declared）", "the area is exempt: declare presence"))
    return Violation(
        "G-06",
        f"须在现场签字，{who_zh}在场证据不足：" + "；".join(zh for zh, _ in missing),
        f"sign on site: there is no evidence the {who_en} is there: " + "; ".join(en for _, en in missing),
    )


def _card_missing(claim: OnSiteClaim, minutes: int, who_zh: str, who_en: str) -> tuple[str, str]:
    if claim.own_card is None:
        return (f"{who_zh}未登记定位卡", f"the {who_en} has no positioning card on record")
    return (
        f"{who_zh}本人的定位卡{claim.own_card}近{minutes}分钟未在作业区域出现",
        f"the {who_en}'s own positioning card {claim.own_card} has not been seen in the area in the last "
        f"{minutes} min",
    )


def _position_problem(claim: OnSiteClaim, policy: Mapping[str, Any]) -> tuple[str, str] | None:
    limit = policy.get("position_accuracy_max_m", 10)
    if not claim.has_boundary:
        return (
            "作业区域未划定边界，定位坐标无从检验",
            "the area has no boundary to test the position against",
        )
    if claim.inside is None:
        return ("定位坐标不完整：须给出 x/y 或 lon/lat", "the position is incomplete: give x/y or lon/lat")
    if claim.accuracy_m is None:
        return ("定位须注明精度 accuracy_m", "the position fix must state its accuracy (accuracy_m)")
    if claim.accuracy_m > limit:
        return (
            f"定位精度{claim.accuracy_m:g}米，超过上限{limit:g}米",
            f"the position fix is accurate to {claim.accuracy_m:g} m, worse than the limit of {limit:g} m",
        )
    if not claim.inside:
        return ("定位点在作业区域边界之外", "the position fix lies outside the area's boundary")
    return None
