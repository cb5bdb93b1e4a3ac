"""The facts a permit declares on its form (G-01, G-14): their declarations, their types and the facts the records
hold.

Every fact is typed here, once: the shell checks a request against `Fact.problem`, the catalogue and the OpenAPI
publish `Fact.schema`. What the enterprise's records already hold about the area (its fire-explosion and toxic
classification, running state, major-hazard tank-farm dike, media) is folded in by `recorded`: a permit may add a
hazard, never declare a recorded one away (G-14).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflows import gas
from workflows.model import Area, Context, PermitData
from workflows.rules import Guard, Violation
from workflows.rules.conflicts import ACTIVITIES
from workflows.rules.general import filled

TEXT_MAX = 2000
LIST_MAX = 50
ITEM_MAX = 200
Problem = tuple[str, str]  # (zh, en)


@dataclass(frozen=True)
class Fact:
    """A fact the applicant declares on the form, with its type (G-14).

    kind: bool, integer, number, text, list (of text; of objects of `item_fields` numbers when given), position
    ({x, y} on the plant grid) or gases (codes of the gas catalogue). `choices` closes a text or list vocabulary:
    code -> (zh, en). Text is one line (a name, a number, a place) unless `multiline` (a plan).
    """

    name: str
    kind: str
    zh: str
    en: str
    required: bool = False
    rule: str = "G-01"
    minimum: float | None = None
    maximum: float | None = None
    choices: Mapping[str, tuple[str, str]] | None = None
    item_fields: tuple[str, ...] = ()
    multiline: bool = False

    def problem(self, value: Any, gases: Mapping[str, Any] | None = None) -> Problem | None:
        """Why `value` is not a valid answer (None: it is, or it is left out). `gases`: the gas catalogue."""
        if value is None:
            return None
        check = _CHECKS[self.kind]
        return check(self, value, gases or {})

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of the fact's value, as the catalogue and the OpenAPI publish it."""
        schema: dict[str, Any] = dict(_SCHEMAS[self.kind])
        if self.kind in ("integer", "number"):
            schema.update(
                {k: v for k, v in (("minimum", self.minimum), ("maximum", self.maximum)) if v is not None}
            )
        if self.kind == "text":
            schema["maxLength"] = TEXT_MAX
        if self.kind == "list":
            schema["maxItems"] = LIST_MAX
            if self.item_fields:
                schema["items"] = {
                    "type": "object",
                    "properties": {n: {"type": "number", "minimum": 0} for n in self.item_fields},
                    "required": list(self.item_fields),
                    "additionalProperties": False,
                }
            else:
                schema["items"] = {"type": "string", "maxLength": ITEM_MAX}
        if self.choices and self.kind == "list":
            schema["items"]["enum"] = list(self.choices)
        elif self.choices:
            schema["enum"] = [*self.choices, None]
        return {**schema, "type": [schema["type"], "null"]}  # null: not answered


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _range(fact: Fact, value: float) -> Problem | None:
    low, high = fact.minimum, fact.maximum
    if (low is None or value >= low) and (high is None or value <= high):
        return None
    bounds = f"{'' if low is None else f'{low:g}'}~{'' if high is None else f'{high:g}'}"
    return f"须在{bounds}之间", f"must be within {bounds}"


def _check_bool(fact: Fact, value: Any, gases: Mapping[str, Any]) -> Problem | None:
    return None if isinstance(value, bool) else ("须为true或false", "must be true or false")


def _check_integer(fact: Fact, value: Any, gases: Mapping[str, Any]) -> Problem | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return "须为整数", "must be an integer"
    return _range(fact, value)


def _check_number(fact: Fact, value: Any, gases: Mapping[str, Any]) -> Problem | None:
    if not _is_number(value):
        return "须为有限数值", "must be a finite number"
    return _range(fact, value)


def _unknown(fact: Fact, values: list[str], known: Mapping[str, Any]) -> Problem | None:
    unknown = [v for v in values if v not in known]
    if not unknown:
        return None
    listed = ", ".join(unknown)
    return (
        f"不在可选范围内：{listed}（可选：{', '.join(known)}）",
        f"not allowed: {listed} (one of: {', '.join(known)})",
    )


# Tab, line feed, carriage return and the Unicode line and paragraph separators.
LINE_BREAK = re.compile("[\t\n\r\u2028\u2029]")
NOT_ONE_LINE: Problem = ("须为单行文本，不含换行符或制表符", "must be one line: no line breaks or tabs")


def _check_text(fact: Fact, value: Any, gases: Mapping[str, Any]) -> Problem | None:
    if not isinstance(value, str):
        return "须为文本", "must be text"
    if len(value) > TEXT_MAX:
        return f"不得超过{TEXT_MAX}字", f"at most {TEXT_MAX} characters"
    if not fact.multiline and LINE_BREAK.search(value):
        return NOT_ONE_LINE
    return _unknown(fact, [value], fact.choices) if fact.choices and value else None


def _check_list(fact: Fact, value: Any, gases: Mapping[str, Any]) -> Problem | None:
    if not isinstance(value, list):
        return "须为列表", "must be a list"
    if len(value) > LIST_MAX:
        return f"不得超过{LIST_MAX}项", f"at most {LIST_MAX} items"
    if fact.item_fields:
        for item in value:
            if (
                not isinstance(item, Mapping)
                or set(item) != set(fact.item_fields)
                or not all(_is_number(item[n]) and item[n] >= 0 for n in fact.item_fields)
            ):
                names = ", ".join(fact.item_fields)
                return (
                    f"每项须为{{{names}}}，数值非负",
                    f"each item must be {{{names}}} with non-negative numbers",
                )
        return None
    if not all(isinstance(v, str) and len(v) <= ITEM_MAX for v in value):
        return f"每项须为不超过{ITEM_MAX}字的文本", f"each item must be text of at most {ITEM_MAX} characters"
    if any(LINE_BREAK.search(v) for v in value):
        return NOT_ONE_LINE
    return _unknown(fact, value, fact.choices) if fact.choices else None


def _check_position(fact: Fact, value: Any, gases: Mapping[str, Any]) -> Problem | None:
    if isinstance(value, Mapping) and set(value) == {"x", "y"} and all(_is_number(value[k]) for k in "xy"):
        return None
    return "须为{x, y}有限数值坐标", "must be {x, y} with finite numbers"


def _check_gases(fact: Fact, value: Any, gases: Mapping[str, Any]) -> Problem | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "须为气体代码列表", "must be a list of gas codes"
    media = {code: gas for code, gas in gases.items() if code != "O2"}
    return _unknown(fact, value, media)


_CHECKS = {
    "bool": _check_bool,
    "integer": _check_integer,
    "number": _check_number,
    "text": _check_text,
    "list": _check_list,
    "position": _check_position,
    "gases": _check_gases,
}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "bool": {"type": "boolean"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "text": {"type": "string"},
    "list": {"type": "array"},
    "position": {
        "type": "object",
        "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
        "required": ["x", "y"],
        "additionalProperties": False,
    },
    "gases": {"type": "array", "maxItems": LIST_MAX, "items": {"type": "string"}},
}


def problems(
    facts: tuple[Fact, ...], values: Mapping[str, Any], gases: Mapping[str, Any] | None = None
) -> dict[str, Problem]:
    """G-14: every value against its fact's type; a name the type does not declare is a problem too."""
    declared = {f.name: f for f in facts}
    out: dict[str, Problem] = {}
    for name, value in values.items():
        fact = declared.get(name)
        if fact is None:
            out[name] = ("不是该作业类型的事实", "not a fact of this permit type")
        elif problem := fact.problem(value, gases):
            out[name] = problem
    return out


def wind_level(rule: str) -> Fact:
    """The wind level on site, a Beaufort force 0-17 (G-14)."""
    return Fact(
        "wind_level", "integer", "风力(级)", "wind level (Beaufort 0-17)", rule=rule, minimum=0, maximum=17
    )


MEDIA = Fact(
    "media",
    "gases",
    "作业部位介质(补充区域记录)",
    "media at the work location, added to the area's record",
    rule="G-14",
)
COMMON_FACTS: tuple[Fact, ...] = (
    Fact(
        "also_involves",
        "list",
        "同时涉及的其他特殊作业",
        "other special operations in the same job",
        rule="G-03",
    ),
    Fact("cross_operation_coordinator", "text", "交叉作业协调人", "cross-operation coordinator", rule="G-04"),
    Fact(
        "cross_operation_risk_analysis",
        "text",
        "交叉作业风险辨识",
        "cross-operation risk analysis",
        rule="G-04",
    ),
    Fact("position", "position", "作业点厂区坐标(m)", "work point on the plant grid (m)"),
    Fact(
        "leaking_line",
        "bool",
        "在泄漏的设备、管线上作业（堵漏）",
        "work on a leaking line or equipment (leak plugging)",
        rule="HR-01",
    ),
    Fact(
        "activities",
        "list",
        "本作业包含的活动",
        "activities under this permit (conflict checks)",
        rule="HW-10",
        choices=ACTIVITIES,
    ),
)


def absent(value: Any) -> bool:
    """A required fact left out: missing, blank text or an empty list (a 0 or false is an answer, not a gap)."""
    return value is None or (isinstance(value, str | list | tuple | Mapping) and not filled(value))


def required_given(facts: tuple[Fact, ...]) -> Guard:
    """A submit guard: every required fact of the type is answered (G-01, or the fact's own rule)."""

    def facts_given(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        missing = [f for f in facts if f.required and absent(permit.facts.get(f.name))]
        if not missing:
            return None
        names = ", ".join(f.zh for f in missing)
        return Violation(
            missing[0].rule, f"缺少必填信息：{names}", f"missing facts: {', '.join(f.name for f in missing)}"
        )

    return facts_given


def typed(facts: tuple[Fact, ...]) -> Guard:
    """A submit guard (G-14): the stored facts fit their types. The shell refuses a bad value on filing with a 422;
    this catches a draft filed before the facts were typed, or re-issued from such a permit."""

    def facts_typed(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        found = problems(facts, permit.facts, gas.gas_table(ctx.policy))
        if not found:
            return None
        return Violation(
            "G-14",
            "事实不符合其类型，请修改草稿：" + "；".join(f"{n}：{zh}" for n, (zh, _en) in found.items()),
            "facts do not fit their types, edit the draft: "
            + "; ".join(f"{n}: {en}" for n, (_zh, en) in found.items()),
        )

    return facts_typed


def shutdown_on_record(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """G-14 / HW-02: a unit declared shut down, purged and isolated is not one the area record holds as running."""
    if not permit.facts.get("unit_shutdown_isolated") or not permit.area.running_unit:
        return None
    name = permit.area.name or permit.area.id
    return Violation(
        "G-14",
        f"区域“{name}”在记录中为运行装置：装置停车、置换、隔离须先记入区域记录，不能由作业票声明",
        f"area {name!r} is on record as a running unit: record its shutdown on the area, a permit cannot declare it",
    )


def in_major_hazard_dike(area: Area) -> bool:
    """The area lies inside the dike of a major-hazard tank farm (HW-01), as the area record says."""
    return area.major_hazard and bool(area.dike_code)


def recorded(permit: PermitData) -> dict[str, Any]:
    """The permit's facts with what the area's record holds folded in (G-14): a recorded hazard is never undone.

    Adds `fire_explosion_area`, `toxic_area`, `in_major_hazard_dike`, the record's `dike_code`, `unit_running`
    (the area's running state) and `media` (the area's media and the permit's own, in that order).
    """
    area = permit.area
    facts = dict(permit.facts)
    for name, on_record in (
        ("fire_explosion_area", area.fire_explosion_area),
        ("toxic_area", area.toxic),
        ("in_major_hazard_dike", in_major_hazard_dike(area)),
    ):
        facts[name] = bool(facts.get(name)) or on_record
    facts["dike_code"] = area.dike_code
    facts["unit_running"] = area.running_unit
    declared = facts.get("media") if isinstance(facts.get("media"), list) else []
    facts["media"] = list(dict.fromkeys([*area.media, *declared]))
    return facts


def catalogue(facts: tuple[Fact, ...]) -> list[dict[str, Any]]:
    """The facts as the catalogue publishes them: name, kind, names, whether required, the rule and the schema."""
    return [
        {
            "name": f.name,
            "kind": f.kind,
            "zh": f.zh,
            "en": f.en,
            "required": f.required,
            "rule": f.rule,
            "schema": f.schema(),
            "choices": [{"code": c, "zh": zh, "en": en} for c, (zh, en) in (f.choices or {}).items()],
        }
        for f in facts
    ]
