"""An output schema's dump compiled once: what `schema.dump(obj)` answers, without marshmallow's per-field machinery.

marshmallow dumps each field through `Field.serialize`, the schema's accessor, `utils.get_value` and the field's
`_serialize`, and each nested object through a whole `Schema.dump`: some 2 µs a field. A permit's whole answer has
a few hundred fields (its measure lines, crew and signatures), 0.58 ms of a write's ~5 ms of CPU (issue 14).
`compiled(schema)` works out once, per field, where its value is read and how it is converted, and answers a
function that does only that. It answers what `schema.dump` answers, field for field:

- a value is read as marshmallow reads it (`obj[key]` where `obj` has `__getitem__`, else, or where that fails,
  the attribute; a dotted `attribute` step by step), and a field whose value is missing is left out (or takes its
  `dump_default`);
- the fields whose `_serialize` reads nothing but the value (strings, ids, numbers, booleans, dates, this service's
  timestamps, plain dicts, lists and nested schemas of those) are converted here as their `_serialize` would; any
  other field is dumped by marshmallow's own `Field.serialize`;
- a schema with dump hooks, its own accessor, dump or dict class, or `many`, is not compiled (TypeError); nested in
  another, it is dumped by marshmallow, and so is a schema nested in itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple

from marshmallow import Schema, fields, missing
from marshmallow.utils import ensure_text_type, get_value

from permit_service.api.fields import AwareDateTime, display_tz

# A converter takes a value that is not None and the timezone timestamps are shown in (display_tz, read once a dump).
Convert = Callable[[Any, tzinfo], Any]
# A compiled schema dumps an object with the timezone given.
_Dump = Callable[[Any, tzinfo], dict[str, Any]]


def compiled(schema: Schema) -> Callable[[Any], dict[str, Any]]:
    """`schema.dump` for one object, compiled (see the module)."""
    dump = None if schema.many else _schema_dump(schema, frozenset())
    if dump is None:
        raise TypeError(
            f"{type(schema).__name__} has dump hooks, its own accessor, dump or dict class, or many: dump it with "
            "marshmallow"
        )

    def dump_one(obj: Any) -> dict[str, Any]:
        return dump(obj, display_tz())

    return dump_one


def _schema_dump(schema: Schema, within: frozenset[type[Schema]]) -> _Dump | None:
    """The compiled dump of `schema`, or None where marshmallow must dump it; `within`: the schemas being compiled
    around it (one nested in itself is left to marshmallow)."""
    kind = type(schema)
    if (
        kind in within
        or schema._hooks.get("pre_dump")
        or schema._hooks.get("post_dump")
        or kind.get_attribute is not Schema.get_attribute
        or kind.dump is not Schema.dump
        or kind._serialize is not Schema._serialize
        or schema.dict_class is not dict
    ):
        return None
    plan = [_field_plan(name, field, within | {kind}) for name, field in schema.dump_fields.items()]

    def dump(obj: Any, tz: tzinfo) -> dict[str, Any]:
        out = {}
        # How marshmallow reads a value is decided by the object's type: decided once for all its fields.
        mapping = type(obj) is dict
        plain = not mapping and (
            not hasattr(obj, "__getitem__") or getattr(type(obj), "__getitem__", None) in _BY_POSITION
        )
        for key, name, where, dotted, default, convert, field in plan:
            if convert is None:  # marshmallow's own path for this field
                value = field.serialize(name, obj, accessor=schema.get_attribute)
                if value is not missing:
                    out[key] = value
                continue
            if plain and not dotted:
                value = getattr(obj, where, missing)
            elif mapping and not dotted:
                value = obj[where] if where in obj else getattr(obj, where, missing)
            else:  # a dotted path, or an object with __getitem__ of its own
                value = get_value(obj, where, missing)
            if value is missing:
                value = default() if callable(default) else default
                if value is missing:
                    continue
            out[key] = None if value is None else convert(value, tz)
        return out

    return dump


class FieldPlan(NamedTuple):
    """How a compiled dump dumps one field."""

    key: str  # the key it is dumped under (data_key)
    name: str  # the field's name in its schema
    where: str  # the attribute or key its value is read from, or a dotted path of them
    dotted: bool
    default: Any  # dump_default
    convert: Convert | None  # None: marshmallow's Field.serialize dumps it
    field: fields.Field


def _field_plan(name: str, field: fields.Field, within: frozenset[type[Schema]]) -> FieldPlan:
    where = name if field.attribute is None else field.attribute
    standard = (
        field._CHECK_ATTRIBUTE
        and type(field).serialize is fields.Field.serialize
        and type(field).get_value is fields.Field.get_value
    )
    return FieldPlan(
        key=name if field.data_key is None else field.data_key,
        name=name,
        where=where,
        dotted="." in where,
        default=field.dump_default,
        convert=_converter(field, within) if standard else None,
        field=field,
    )


# A tuple's or list's item is never found by name (get_value's TypeError): marshmallow reads the attribute, e.g. a
# named tuple's.
_BY_POSITION = (tuple.__getitem__, list.__getitem__)


def _converter(field: fields.Field, within: frozenset[type[Schema]]) -> Convert | None:
    """How a field turns a value that is not None into what it dumps, where that reads nothing but the value (and
    None for it is None, as marshmallow's fields dump it); None for any other field."""
    serialize = type(field)._serialize
    if type(field) is fields.Nested:
        nested = _schema_dump(field.schema, within)
        if nested is None:
            return None
        if field.many or field.schema.many:
            return lambda value, tz: [nested(each, tz) for each in value]
        return nested
    if type(field) is fields.List:
        inner = _converter(field.inner, within)
        if inner is None:
            return None
        return lambda value, tz: [None if each is None else inner(each, tz) for each in value]
    if serialize is fields.String._serialize:
        return _text
    if serialize is fields.UUID._serialize:
        return _str
    if serialize is AwareDateTime._serialize:
        return _aware
    if serialize is fields.Number._serialize and not field.as_string:  # type: ignore[attr-defined]
        number = field._format_num  # type: ignore[attr-defined]
        return lambda value, _tz: number(value)
    if serialize is fields.Mapping._serialize:  # keys and values are dumped with neither attribute nor object
        if field.key_field is None and field.value_field is None:  # type: ignore[attr-defined]
            mapping = field.mapping_type  # type: ignore[attr-defined]
            return lambda value, _tz: mapping(value)
        own = field._serialize
        return lambda value, _tz: own(value, None, None)
    if serialize is fields._TemporalField._serialize:  # dates, times and marshmallow's datetimes
        temporal = field.format or field.DEFAULT_FORMAT  # type: ignore[attr-defined]
        formatted = field.SERIALIZATION_FUNCS.get(temporal)  # type: ignore[attr-defined]
        if formatted is not None:
            return lambda value, _tz: formatted(value)
        return lambda value, _tz: value.strftime(temporal)
    if serialize is fields.Field._serialize:  # booleans and raw values are dumped as they are
        return _same
    return None


def _text(value: Any, _tz: tzinfo) -> str:
    return value if type(value) is str else ensure_text_type(value)


def _same(value: Any, _tz: tzinfo) -> Any:
    return value


def _str(value: Any, _tz: tzinfo) -> str:
    return str(value)


def _aware(value: datetime, tz: tzinfo) -> str:
    """AwareDateTime's dump with the timezone read once for the whole dump."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tz).isoformat()
