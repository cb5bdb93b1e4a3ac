"""One pushed batch, checked whole and applied once under its key (DC-01, DC-05), whatever carried it.

The HTTP feeds, the MQTT bridge and the OPC UA reader all come through `push`: the same schemas, the same
service checks and apply steps, the same idempotency. Needs an app context (it opens the transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, missing
from marshmallow.decorators import PRE_LOAD
from sqlalchemy.orm import Session

from permit_service.api.fields import unstorable_text
from permit_service.auth.principal import Principal
from permit_service.db import transaction
from permit_service.errors import ValidationProblem
from permit_service.integrations import schemas as s
from permit_service.integrations import service
from permit_service.integrations.models import IngestBatch


@dataclass(frozen=True)
class Push:
    """One kind of push: the list field of its body, its schema, and the service's check and apply steps."""

    kind: str
    field: str
    schema: type[Schema]
    check: Callable[..., tuple[Any, dict[str, list[str]]]]
    apply: Callable[[Session, Principal, service.Batch, list[dict[str, Any]], Any], dict[str, Any]]
    refuses_items: bool = False  # DC-01: well-formed items the check will not take are refused in the answer


PUSHES: Mapping[str, Push] = {
    p.kind: p
    for p in (
        Push("gas_readings", "readings", s.ReadingBatchIn, service.check_readings,
             lambda se, _p, batch, _items, checked: service.apply_readings(se, batch=batch, checked=checked),
             refuses_items=True),
        Push("positions", "snapshots", s.SnapshotBatchIn, service.check_positions,
             lambda se, _p, batch, items, areas: service.apply_positions(se, batch=batch, snapshots=items, areas=areas)),
        Push("card_sightings", "sightings", s.SightingBatchIn, service.check_sightings,
             lambda se, _p, batch, items, areas: service.apply_sightings(se, batch=batch, sightings=items, areas=areas)),
        Push("alarms", "alarms", s.PlantAlarmBatchIn, service.check_plant_alarms,
             lambda se, p, batch, items, areas: service.apply_plant_alarms(
                 se, principal=p, batch=batch, alarms=items, areas=areas)),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """The answer to a push: the batch's body and status, and whether it repeats an earlier push's answer."""

    body: dict[str, Any]
    status_code: int
    replayed: bool


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages as `readings.3.value: [...]`, the way every other 422 lists fields."""
    if isinstance(messages, Mapping):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix or "_schema": [str(m) for m in (messages if isinstance(messages, list) else [messages])]}


def _load(schema: type[Schema], body: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Load what can be loaded and keep every error, so that the service can add its own for the same items."""
    if not isinstance(body, dict):
        return {}, {"_schema": ["须为 JSON 对象 / must be a JSON object"]}
    loaded = _quick_load(_plans[schema], body) if not unstorable_text(body) else None
    if loaded is not None:
        return loaded, {}
    try:
        return schema().load(body), {}
    except ValidationError as exc:
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        return valid, _flatten(exc.messages)


@dataclass(frozen=True)
class _Step:
    """One load field: a nested list's items have their plan; a field without load hooks loads a value directly."""

    name: str
    field: fields.Field
    inner: _Plan | None
    direct: bool


@dataclass(frozen=True)
class _Plan:
    """How to load a plain schema field by field: its load fields, each nested list with the plan of its items."""

    steps: tuple[_Step, ...]
    names: frozenset[str]


def _plan(schema: Schema) -> _Plan | None:
    """The plan of a schema whose load is its fields' alone (no hook but StrictSchema's text check, run by the
    caller; no renamed field; nested lists likewise), else None: marshmallow loads it."""
    hooks = {tag: [name for name, *_ in found] for tag, found in schema._hooks.items() if found}
    if hooks not in ({}, {PRE_LOAD: ["_refuse_unstorable_text"]}):
        return None
    steps = []
    for name, field in schema.load_fields.items():
        inner = _plan(field.schema) if isinstance(field, fields.Nested) and field.many else None
        if field.data_key is not None or field.attribute is not None:
            return None
        steps.append(_Step(name, field, inner, direct=not field.pre_load and not field.post_load))
    return _Plan(tuple(steps), frozenset(schema.load_fields))


class _Plans(dict[type[Schema], _Plan | None]):
    """One plan per batch schema, made at its first push."""

    def __missing__(self, cls: type[Schema]) -> _Plan | None:
        self[cls] = _plan(cls())
        return self[cls]


_plans = _Plans()


def _quick_load(plan: _Plan | None, data: Any) -> dict[str, Any] | None:
    """What the schema's `load(data)` returns, field by field without marshmallow's bookkeeping per item (a batch
    of 500 readings loads 3 times faster); None if anything is amiss, and marshmallow then names every error.

    The caller has checked the text of the whole body once (the check StrictSchema runs on every item).
    """
    if plan is None or not isinstance(data, dict) or not data.keys() <= plan.names:
        return None
    out: dict[str, Any] = {}
    try:
        for step in plan.steps:
            name, field = step.name, step.field
            raw = data.get(name, missing)
            if step.inner is not None and isinstance(raw, list):
                value: Any = [_quick_load(step.inner, item) for item in raw]
                if None in value or any(validate(value) is False for validate in field.validators):
                    return None
            elif step.direct and raw is not missing and raw is not None:
                # What field.deserialize does with a value, without composing its validators anew for each one.
                value = field._deserialize(raw, name, data)
                for validate in field.validators:
                    validate(value)
            else:
                value = field.deserialize(raw, name, data)
            if value is not missing:
                out[name] = value
    except ValidationError:
        return None
    return out


def _replayed(batch: IngestBatch) -> Outcome:
    return Outcome(batch.response, batch.status_code, replayed=True)


def push(principal: Principal, *, kind: str, key: str, body: Any, request_hash: str) -> Outcome:
    """Check the whole batch, store nothing if it is malformed (422), else apply it once under its key (DC-05);
    gas readings the service will not judge are refused one by one in the answer (DC-01).

    `request_hash` fingerprints what carried the batch (`service.fingerprint`): the same key with another
    batch is refused. A concurrent push with the same key blocks on the key and is answered as the first was.
    """
    spec = PUSHES[kind]
    limit = service.settings().ingest_batch_max
    raw_items = body.get(spec.field) if isinstance(body, dict) else None
    if isinstance(raw_items, list) and len(raw_items) > limit:
        raise ValidationProblem({spec.field: [f"每批最多 {limit} 条 / at most {limit} items per batch"]})
    with transaction() as session:
        # The key first; a refused batch rolls its claim back with everything else.
        batch = service.claim_batch(
            session,
            principal=principal,
            kind=kind,
            key=key,
            request_hash=request_hash,
            item_count=len(raw_items) if isinstance(raw_items, list) else 0,
        )
        if isinstance(batch, IngestBatch):
            return _replayed(batch)
        data, errors = _load(spec.schema, body)
        items = data.get(spec.field) or []
        resolved, problems = spec.check(session, principal=principal, items=items)
        # DC-01: well-formed readings the service will not judge are refused one by one in the answer; a
        # malformed batch is refused whole, every offending item listed.
        if errors or not spec.refuses_items:
            errors.update(problems)
        if errors:
            raise ValidationProblem(
                dict(sorted(errors.items())),
                "批次被拒绝，未保存任何数据：请修正所列各项",
                "The batch is refused and nothing was stored: fix every item listed",
            )
        answer = spec.apply(session, principal, batch, items, resolved)
        service.record_answer(session, batch, answer)
        return Outcome(answer, service.ACCEPTED, replayed=False)
