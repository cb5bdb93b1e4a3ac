"""A compiled dump (permit_service.api.dumping) answers what marshmallow's `schema.dump` answers (issue 14)."""

from __future__ import annotations

import uuid
from collections import namedtuple
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields, missing, post_dump

from permit_service.api.conventions import WithExtras
from permit_service.api.dumping import compiled
from permit_service.api.fields import AwareDateTime
from permit_service.feed import schemas as feed_schemas
from permit_service.permits import schemas as permit_schemas


class Inner(Schema):
    code = fields.String()
    at = AwareDateTime(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())


class Outer(Schema):
    id = fields.UUID()
    name = fields.String()
    text_bytes = fields.String()
    number = fields.Integer()
    as_text = fields.Integer(as_string=True)
    ratio = fields.Float()
    price = fields.Decimal()
    flag = fields.Boolean()
    raw = fields.Raw()
    day = fields.Date()
    naive = fields.DateTime()
    shown = AwareDateTime()
    facts = fields.Dict()
    tags = fields.List(fields.String())
    days = fields.List(fields.Date())
    inner = fields.Nested(Inner)
    inners = fields.List(fields.Nested(Inner))
    many = fields.Nested(Inner, many=True)
    renamed = fields.String(data_key="renamedKey")
    linked_code = fields.String(attribute="link.code")
    defaulted = fields.String(dump_default="默认")
    computed = fields.Method("_computed")
    called = fields.Function(lambda obj: "f")
    constant = fields.Constant(7)
    plucked = fields.Pluck(Inner, "code")

    def _computed(self, obj: Any) -> str:
        return "m"


class Thing:
    """An object without __getitem__: its attributes are read."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


Row = namedtuple("Row", "code at counts")  # __getitem__ refuses names: attributes are read


def _full() -> dict[str, Any]:
    at = datetime(2026, 12, 6, 1, 2, 3, tzinfo=UTC)
    return {
        "id": uuid.UUID(int=5),
        "name": "动火作业",
        "text_bytes": "字节".encode(),
        "number": 3,
        "as_text": 4,
        "ratio": 0.5,
        "price": Decimal("1.50"),
        "flag": True,
        "raw": {"a": [1, 2]},
        "day": date(2026, 12, 6),
        "naive": datetime(2026, 12, 6, 8, 0),
        "shown": at,
        "facts": {"hot": True},
        "tags": ["a", None, "b"],
        "days": [date(2026, 1, 1)],
        "inner": Thing(code="A1-01", at=datetime(2026, 12, 6, 8, 0), counts={"blinds": 2}),
        "inners": [Row("A1-02", at, {}), None, {"code": "A1-03", "at": None}],
        "many": [{"code": "x", "at": at, "counts": {}}, {}],
        "renamed": "r",
        "link": Thing(code="L-1"),
        "plucked": {"code": "P"},
    }


def _check(schema: Schema, obj: Any) -> None:
    assert compiled(schema)(obj) == schema.dump(obj)


@pytest.mark.parametrize("as_", ["dict", "object"])
def test_every_kind_of_field_dumps_as_marshmallow_dumps_it(as_):
    values = _full()
    _check(Outer(), values if as_ == "dict" else Thing(**values))


def test_missing_values_are_left_out_or_take_their_default_and_none_stays_none():
    _check(Outer(), {})
    _check(Outer(), Thing())
    _check(Outer(), dict.fromkeys(_full()))
    _check(Outer(), {"link": None, "inner": None, "inners": None})
    _check(Outer(), {"link": {"code": "as a key"}})


def test_only_and_exclude_are_kept_nested_ones_included():
    values = _full()
    _check(Outer(only=("id", "inner.code", "inners.at")), values)
    _check(Outer(exclude=("many", "inner.counts")), values)


def test_timestamps_are_shown_in_the_display_timezone_naive_ones_read_as_utc():
    dumped = compiled(Outer(only=("shown",)))({"shown": datetime(2026, 12, 6, 16, 30)})
    assert dumped == {"shown": "2026-12-07T00:30:00+08:00"}
    other = timezone(timedelta(hours=-5))
    _check(Outer(only=("shown",)), {"shown": datetime(2026, 12, 6, 16, 30, tzinfo=other)})


def test_a_wrapper_with_extras_reads_as_marshmallow_reads_it_whatever_it_wraps():
    """WithExtras (conventions.answer) finds __getitem__ only through what it wraps: marshmallow reads its
    attributes, the wrapped object's through it."""
    values = _full()
    _check(Outer(), WithExtras(values, name="额外"))
    _check(Outer(), WithExtras(Thing(**values), name="额外"))
    _check(Inner(), WithExtras(Row("A1-02", None, {}), counts={"blinds": 1}))


def test_defaults_and_attributes_at_their_edges():
    class Edges(Schema):
        gone = fields.String(dump_default=lambda: missing)  # a default that is missing leaves the field out
        empty = fields.String(attribute="")
        deep = fields.String(attribute="inner.code")

    for obj in (
        {"": "by an empty key", "inner": [("code", "x")]},
        {"inner": {"code": "y"}},
        Thing(inner=None),
    ):
        _check(Edges(), obj)


def test_a_schema_nested_in_itself_is_dumped_by_marshmallow_where_it_recurs():
    class Tree(Schema):
        name = fields.String()
        children = fields.List(fields.Nested(lambda: Tree()))

    _check(Tree(), {"name": "root", "children": [{"name": "leaf", "children": [{"name": "deeper"}]}]})


def test_a_schema_with_dump_hooks_or_many_is_not_compiled():
    class Hooked(Schema):
        name = fields.String()

        @post_dump
        def _upper(self, data: dict, **_kw: Any) -> dict:
            return data

    with pytest.raises(TypeError):
        compiled(Hooked())
    with pytest.raises(TypeError):
        compiled(Inner(many=True))

    class OwnDump(Inner):
        def dump(self, obj: Any, *, many: bool | None = None) -> Any:
            return {}

    with pytest.raises(TypeError):
        compiled(OwnDump())


class Nested(Schema):
    code = fields.String()


class Loose(Schema):
    text = fields.String()
    count = fields.Integer()
    when = AwareDateTime()
    kids = fields.List(fields.Nested(Nested))


_values = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.integers(-5, 5),
    st.datetimes(timezones=st.just(UTC)),
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["text", "count", "when", "kids", "other"]), _values, max_size=4),
    st.lists(st.dictionaries(st.sampled_from(["code", "x"]), st.text(max_size=3)), max_size=3),
)
def test_any_mapping_dumps_as_marshmallow_dumps_it(data, kids):
    data = {**data, **({"kids": kids} if kids else {})}
    try:
        expected = Loose().dump(data)
    except (TypeError, ValueError, AttributeError) as error:  # a value its field cannot dump: both refuse it
        with pytest.raises(type(error)):
            compiled(Loose())(data)
        return
    assert compiled(Loose())(data) == expected


def test_the_permit_answers_and_the_feed_are_compiled_whole_nested_schemas_included():
    """PermitOut, the minimal answers and the feed's events and pages dump every field here: none falls back to
    marshmallow field by field."""
    from permit_service.api import dumping

    def fallbacks(schema: Schema) -> list[str]:
        found = []
        for name, field in schema.dump_fields.items():
            if dumping._field_plan(name, field, frozenset()).convert is None:
                found.append(name)
            inner = field.inner if isinstance(field, fields.List) else field
            if isinstance(inner, fields.Nested):
                found.extend(f"{name}.{n}" for n in fallbacks(inner.schema))
        return found

    for schema in (
        permit_schemas.PermitOut(),
        permit_schemas.PermitMinimalOut(),
        permit_schemas.GasTestMinimalOut(),
        feed_schemas.FeedEvent(),
        feed_schemas.FeedPageOut(),
    ):
        assert fallbacks(schema) == []
