"""The schemas of the OpenAPI document completed: facts typed per permit type, outputs required and open, named enums.

See permit_service.api.openapi, which applies these to the document flask-smorest generates.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any

from permit_service.api.fields import OPTIONAL_OUTPUT
from permit_service.permits.schemas import PERMIT_GRADES, PERMIT_STATES, PERMIT_TYPES
from workflows import WORKFLOWS

METHODS = ("get", "put", "post", "patch", "delete")
SCHEMAS = "#/components/schemas/"
PROBLEM_ALWAYS = ["type", "title", "status", "detail", "message_zh", "message_en", "instance"]
# Output fields that carry the values of an input's enum (the same constants feed both); named like the input's.
_PERMIT_ENUMS = {"type": "PermitType", "state": "PermitState", "grade": "PermitGrade"}
OUTPUT_ENUMS: dict[str, dict[str, str]] = {
    "PermitOut": {"high_risk_kind": "PermitHighRiskKind"},
    "CarriedPermitOut": {**_PERMIT_ENUMS, "high_risk_kind": "PermitHighRiskKind"},
    "DeliveryOut": {"status": "WebhookStatus"},
    "NotifiedPermitOut": _PERMIT_ENUMS,
    "TypeBuckets": {"type": "PermitType"},
    "JobOut": {"state": "JobState", "kind": "JobKind"},
    "JobSummaryOut": {"state": "JobState", "kind": "JobKind"},
    "FreezeOut": {"state": "FreezeState", "mode": "FreezeMode"},
    "RaiseOut": {"status": "HeadcountRaiseStatus"},
    "FeedOut": {"kind": "FeedKind"},
    "RiskGradeOut": {"grade": "EnterpriseRiskGrade"},
    "CrewOut": {"role": "CrewRole"},
}


def complete_schemas(spec: dict[str, Any]) -> None:
    """Name the enums, type the facts, and make the output schemas required-and-open (in place)."""
    schemas = spec["components"]["schemas"]
    _name_enums(spec)
    _add_facts(schemas)
    _inputs, outputs = _split_shared(spec)
    for name in outputs:
        _as_output(schemas[name])
    schemas["Problem"].pop(
        "additionalProperties", None
    )  # a problem may carry more, e.g. a rule's own details
    schemas["Problem"]["required"] = PROBLEM_ALWAYS


def plural(word: str) -> bool:
    """Whether a path segment names a collection."""
    return word == "people" or (word.endswith("s") and not word.endswith("ss"))


def singular(word: str) -> str:
    """The item of a collection segment: permits -> permit, people -> person."""
    if word == "people":
        return "person"
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if plural(word) else word


def camel(word: str) -> str:
    """shift-check -> shiftCheck."""
    head, *rest = re.split(r"[-_]", word)
    return head + "".join(part.capitalize() for part in rest)


def pascal(*words: str) -> str:
    """hot_work, permit -> HotWorkPermit."""
    return "".join(part.capitalize() for word in words for part in re.split(r"[-_]", word))


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) of every operation of the document."""
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _add_facts(schemas: dict[str, Any]) -> None:
    """One facts schema per permit type from its catalogue; a new permit is filed as one of them by `type`."""
    variants: dict[str, str] = {}
    for permit_type, workflow in WORKFLOWS.items():
        name = pascal(permit_type) + "Facts"
        facts = workflow.catalogue()["facts"]
        schemas[name] = {
            "type": "object",
            "description": f"{workflow.zh} / {workflow.en}: the facts declared on its form, each of its type "
            "(G-14: another value or an undeclared name is a 422 naming facts.<name>; required ones are checked "
            "on submit, G-01)",
            "properties": {
                fact["name"]: {
                    **fact["schema"],
                    "description": f"{fact['zh']} / {fact['en']} ({fact['rule']})",
                }
                for fact in facts
            },
            "x-required-on-submit": [fact["name"] for fact in facts if fact["required"]],
            "additionalProperties": False,
        }
        variants[permit_type] = name
    base = schemas.get("PermitCreate")
    if base is None:
        return
    refs = {t: SCHEMAS + f"{pascal(t)}PermitCreate" for t in variants}
    for permit_type, facts in variants.items():
        variant = copy.deepcopy(base)
        variant["description"] = f"{base.get('description', '')} ({permit_type})"
        variant["properties"]["type"] = {"type": "string", "const": permit_type}
        variant["properties"]["facts"] = {**variant["properties"]["facts"], "$ref": SCHEMAS + facts}
        variant["properties"]["facts"].pop("type", None)
        variant["properties"]["facts"].pop("additionalProperties", None)
        schemas[refs[permit_type].removeprefix(SCHEMAS)] = variant
    schemas["PermitCreate"] = {
        "description": base.get("description", ""),
        "oneOf": [{"$ref": ref} for ref in refs.values()],
        "discriminator": {"propertyName": "type", "mapping": refs},
    }
    # A draft's facts are changed without its type: any type's facts. A reader tells the type from `type`.
    any_facts = {"anyOf": [{"$ref": SCHEMAS + name} for name in variants.values()]}
    if "facts" in schemas.get("PermitUpdate", {}).get("properties", {}):
        schemas["PermitUpdate"]["properties"]["facts"] = any_facts
    if "facts" in schemas.get("PermitOut", {}).get("properties", {}):
        schemas["PermitOut"]["properties"]["facts"]["description"] = (
            "作业类型的事实，见 <Type>Facts / the facts of the permit's type, as in <Type>Facts (e.g. HotWorkFacts)"
        )


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(SCHEMAS):
                yield value.removeprefix(SCHEMAS)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _reachable(schemas: dict[str, Any], roots: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen and name in schemas:
            seen.add(name)
            todo.extend(_refs(schemas[name]))
    return seen


def _split_shared(spec: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The input and the output schemas; one used both ways is copied as `<Name>Out` for the outputs."""
    schemas = spec["components"]["schemas"]
    input_roots: set[str] = set()
    output_roots: set[str] = set()
    for _path, _method, operation in operations(spec):
        input_roots.update(_refs(operation.get("requestBody", {})))
        input_roots.update(_refs(operation.get("parameters", [])))
        for code, response in operation.get("responses", {}).items():
            if code.startswith("2"):
                output_roots.update(_refs(response))
    inputs, outputs = _reachable(schemas, input_roots), _reachable(schemas, output_roots)
    shared = {
        name for name in inputs & outputs if "properties" in schemas[name]
    }  # enums are shared as they are
    if not shared:
        return inputs, outputs
    renamed = {name: f"{name}Out" if f"{name}Out" not in schemas else f"{name}Output" for name in shared}
    for name, new in renamed.items():
        schemas[new] = copy.deepcopy(schemas[name])

    def rename(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.removeprefix(SCHEMAS) in renamed:
                node["$ref"] = SCHEMAS + renamed[ref.removeprefix(SCHEMAS)]
            for value in node.values():
                rename(value)
        elif isinstance(node, list):
            for value in node:
                rename(value)

    for name in outputs - inputs:
        rename(schemas[name])
    for new in renamed.values():
        rename(schemas[new])
    for _path, _method, operation in operations(spec):
        for code, response in operation.get("responses", {}).items():
            if code.startswith("2"):
                rename(response)
    return inputs - shared, (outputs - shared - inputs) | set(renamed.values())


def _as_output(schema: dict[str, Any]) -> None:
    """Every field listed is always written; a client must accept fields added later."""
    schema.pop("additionalProperties", None)
    properties = schema.get("properties")
    if properties:
        schema["required"] = sorted(
            name for name, prop in properties.items() if not prop.pop(OPTIONAL_OUTPUT, False)
        )


def _walk_properties(
    spec: dict[str, Any],
) -> Iterator[tuple[str, str, dict[str, Any], Callable[[dict], None]]]:
    """(owner, property name, property schema, replace) for every schema property and parameter schema."""
    for owner, schema in list(spec["components"]["schemas"].items()):
        for name, prop in list(schema.get("properties", {}).items()):
            yield owner, name, prop, lambda new, s=schema, n=name: s["properties"].__setitem__(n, new)
            items = prop.get("items")
            if isinstance(items, dict) and "enum" in items:
                yield owner, singular(name), items, lambda new, p=prop: p.__setitem__("items", new)
    for path, _method, operation in operations(spec):
        owner = pascal(singular(path.removeprefix("/api/v1/").split("/")[0]))
        for parameter in operation.get("parameters", []):
            if "schema" in parameter:
                yield (
                    owner,
                    parameter["name"],
                    parameter["schema"],
                    lambda new, p=parameter: p.__setitem__("schema", new),
                )


def _enum_values(prop: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((v for v in prop["enum"] if v is not None), key=str))


def _catalogue_enums() -> dict[tuple[Any, ...], str]:
    """The enums the workflow catalogue defines, under the names a client knows them by."""
    return {
        tuple(sorted(PERMIT_TYPES)): "PermitType",
        tuple(sorted(PERMIT_STATES)): "PermitState",
        tuple(sorted(PERMIT_GRADES)): "PermitGrade",
    }


def _enum_name(owner: str, prop: str) -> str:
    """`<owner><Property>` without the owner's In/Out/Create/... suffix: CrewIn.role -> CrewRole."""
    base = re.sub(r"(In|Out|Create|Update|Patch|Body|Args|Query|Summary)$", "", owner)
    name = pascal(prop)
    return base if base.endswith(name) else base + name


def _name_enums(spec: dict[str, Any]) -> None:
    """Each distinct enum becomes one named schema, referenced wherever it appears (nullable: anyOf with null)."""
    schemas = spec["components"]["schemas"]
    sites = [site for site in _walk_properties(spec) if "enum" in site[2]]
    names = _catalogue_enums()
    for owner, prop_name, prop, _replace in sorted(sites, key=lambda site: (site[0], site[1])):
        values = _enum_values(prop)
        if values not in names:
            names[values] = _enum_name(owner, prop_name)
    for values, name in names.items():
        if any(_enum_values(site[2]) == values for site in sites):
            kind = "string" if all(isinstance(v, str) for v in values) else "integer"
            schemas[name] = {"type": kind, "enum": list(values)}
    for owner, fields in OUTPUT_ENUMS.items():
        properties = schemas.get(owner, {}).get("properties", {})
        for field, enum in fields.items():
            if field in properties and enum in schemas and "enum" not in properties[field]:
                nullable = "null" in properties[field].get("type", [])
                ref = {"$ref": SCHEMAS + enum}
                properties[field] = {"anyOf": [ref, {"type": "null"}]} if nullable else ref
    for _owner, _name, prop, replace in sites:
        ref = {"$ref": SCHEMAS + names[_enum_values(prop)]}
        nullable = None in prop["enum"] or (isinstance(prop.get("type"), list) and "null" in prop["type"])
        kept = {k: v for k, v in prop.items() if k in ("description", "default", "example")}
        replace({"anyOf": [ref, {"type": "null"}], **kept} if nullable else {**ref, **kept})
