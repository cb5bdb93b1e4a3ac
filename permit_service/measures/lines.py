"""A permit's measures as stored and as read (G-02): the applicant's answers checked against the type's list, and
every line of the list it was filed under, with its answer, counts and confirmer. No database access here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from permit_service.errors import ValidationProblem
from workflows import measures
from workflows import model as wf
from workflows.measures import MeasureList


def _line_errors(mlist: MeasureList, item: Mapping[str, Any], seen: set[str]) -> dict[str, str]:
    """What is wrong with one answer to a listed line, by field."""
    code = item["code"]
    line = mlist.line(code)
    if line is None or line.other:
        added = " (lines under 其他安全措施 are added with their text and no code)" if line else ""
        return {
            "code": f"附录 {mlist.form} 没有可回答的该条 / no line {code} to answer in Appendix {mlist.form}{added}"
        }
    errors: dict[str, str] = {}
    if code in seen:
        errors["code"] = "该条重复 / this line is answered twice"
    if item.get("involved") is None:
        errors["involved"] = "须回答是否涉及 / answer whether the line is involved"
    if item.get("text") is not None:
        errors["text"] = (
            "标准条文不可改写，补充措施请另加一行 / the standard's wording is fixed: add a line instead"
        )
    counts = item.get("counts") or {}
    asked = {c.name: c for c in line.counts}
    unknown = sorted(set(counts) - set(asked))
    if unknown:
        errors["counts"] = (
            f"该条没有这些数量：{', '.join(unknown)} / this line records no {', '.join(unknown)}"
        )
    elif counts and item.get("involved") is False:
        errors["counts"] = "不涉及的条目不填数量 / a line not involved records no counts"
    elif low := [name for name, value in counts.items() if value < asked[name].minimum]:
        errors["counts"] = f"数量过小：{', '.join(low)} / too small: {', '.join(low)}"
    return errors


def answers(permit_type: str, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The answers as stored under the type's current list, or 422 naming every bad field.

    An item with a `code` answers that listed line (`involved`, and `counts` where the line has blanks); an item
    without one adds a line of the applicant's own `text` under "其他安全措施", involved by definition. A line left
    out stays unanswered: a draft may be filled in over several edits, submission asks for every line (G-02).
    """
    mlist = measures.current(permit_type)
    errors: dict[str, list[str]] = {}
    listed: dict[str, dict[str, Any]] = {}
    added: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if item.get("code") is None:
            problems = {}
            if not item.get("text"):
                problems["text"] = "补充的安全措施须写明内容 / an added line needs its text"
            if item.get("involved") is False:
                problems["involved"] = "补充的安全措施即为涉及 / an added line is involved"
            if item.get("counts"):
                problems["counts"] = "补充的安全措施不填数量 / an added line records no counts"
            if not problems:
                added.append(
                    {
                        "code": measures.added_code(mlist, len(added) + 1),
                        "text": item["text"],
                        "involved": True,
                    }
                )
        else:
            problems = _line_errors(mlist, item, set(listed))
            if not problems:
                listed[item["code"]] = {
                    "code": item["code"],
                    "involved": item["involved"],
                    "counts": dict(item.get("counts") or {}),
                }
        errors.update({f"measures.{index}.{name}": [message] for name, message in problems.items()})
    if errors:
        raise ValidationProblem(errors)
    return [listed[line.code] for line in mlist.lines if line.code in listed] + added


def as_input(permit_type: str, version: int, stored: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stored answers as a new filing would send them (a re-issued draft, G-07): the answers, never confirmers.

    A permit filed before the lists (version 0) has free-text lines the current list cannot take: its re-issued
    draft starts with the list unanswered.
    """
    if measures.list_of(permit_type, version) is None:
        return []
    mlist = measures.current(permit_type)
    return [
        {"text": m["text"]}
        if measures.is_added(mlist, m["code"])
        else {"code": m["code"], "involved": m["involved"], "counts": m.get("counts") or {}}
        for m in stored
    ]


def core_measures(stored: Sequence[Mapping[str, Any]]) -> tuple[wf.Measure, ...]:
    """The stored lines as the core reads them."""
    return tuple(
        wf.Measure(
            code=m["code"],
            text=m.get("text") or "",
            involved=m.get("involved", True),
            confirmed_by=m.get("confirmed_by"),
            counts=m.get("counts") or {},
        )
        for m in stored
    )


def _row(code: str, zh: str, en: str, recorded: Mapping[str, Any] | None, **extra: Any) -> dict[str, Any]:
    recorded = recorded or {}
    return {
        "code": code,
        "zh": zh,
        "en": en,
        "involved": recorded.get("involved"),
        "counts": dict(recorded.get("counts") or {}),
        "confirmed_by": recorded.get("confirmed_by"),
        "confirmed_at": datetime.fromisoformat(at) if (at := recorded.get("confirmed_at")) else None,
        "added": False,
        "asks": [],
        **extra,
    }


def lines(permit_type: str, version: int, stored: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every line of the permit's list in the form's order, each with its answer (None: not answered), counts and
    confirmer; the applicant's added lines follow "其他安全措施", which reads involved when there are any. A permit
    filed before the lists reads as the free-text lines it recorded."""
    mlist = measures.list_of(permit_type, version)
    if mlist is None:
        return [
            _row(m["code"], m.get("text", ""), "", {**m, "involved": m.get("involved", True)}) for m in stored
        ]
    recorded = {m["code"]: m for m in stored}
    added = [m for m in stored if measures.is_added(mlist, m["code"])]
    rows = []
    for line in mlist.lines:
        if line.other:
            rows.append(_row(line.code, line.zh, line.en, {"involved": bool(added)}))
            rows += [_row(m["code"], m["text"], "", m, added=True) for m in added]
        else:
            asks = [{"name": c.name, "zh": c.zh, "en": c.en, "unit": c.unit} for c in line.counts]
            rows.append(_row(line.code, line.zh, line.en, recorded.get(line.code), asks=asks))
    return rows
