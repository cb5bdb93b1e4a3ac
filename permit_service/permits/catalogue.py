"""The permit-type catalogue: what a plant portal needs to build its forms, generated from the workflow registry."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields

from permit_service.api.blueprint import Blueprint
from permit_service.api.fields import StrictSchema
from permit_service.auth import current_principal
from permit_service.config import settings
from permit_service.errors import NotFound
from workflows import WORKFLOWS, gas

blp = Blueprint(
    "catalogue", __name__, url_prefix="/permit-types", description="作业类型目录 / Permit-type catalogue"
)
gases_blp = Blueprint(
    "gases", __name__, url_prefix="/gases", description="气体目录 / Gas catalogue (HW-05, CS-02, G-14)"
)


class GradeOut(StrictSchema):
    """A grade with its approver roles (GB B.1) and maximum validity (G-12)."""

    code = fields.String(allow_none=True)
    zh = fields.String()
    en = fields.String()
    approvers = fields.List(fields.String())
    max_validity_hours = fields.Float()


class ChoiceOut(StrictSchema):
    """One value of a closed vocabulary."""

    code = fields.String()
    zh = fields.String()
    en = fields.String()


class FactOut(StrictSchema):
    """A fact the applicant declares, with its type (G-14): a value that does not fit is a 422 naming it."""

    name = fields.String()
    kind = fields.String(
        metadata={"description": "bool, integer, number, text, list, position or gases (codes of GET /gases)"}
    )
    zh = fields.String()
    en = fields.String()
    required = fields.Boolean()
    rule = fields.String(metadata={"description": "the rule that asks for the fact"})
    schema = fields.Dict(metadata={"description": "the JSON Schema of its value"})
    choices = fields.List(fields.Nested(ChoiceOut), metadata={"description": "the closed vocabulary, if any"})


class CertificateNeedOut(StrictSchema):
    """A certificate a crew role needs for the type's work, checked on the person's record (G-13)."""

    role = fields.String(metadata={"description": "the crew role whose every member needs it"})
    kind = fields.String(metadata={"description": "the certificate kind of a person's record"})
    zh = fields.String()
    en = fields.String()
    when = fields.Dict(
        allow_none=True,
        metadata={"description": "{fact, any_of}: only when the fact names one of these codes; null: always"},
    )


class MeasureCountOut(StrictSchema):
    """A blank of a line that records a count (灭火器（ ）台)."""

    name = fields.String(metadata={"description": "its key in a measure answer's `counts`"})
    zh = fields.String()
    en = fields.String()
    unit = fields.String()
    minimum = fields.Integer()


class MeasureLineOut(StrictSchema):
    """A safety-measure line of the type's Appendix A form, in the standard's wording."""

    code = fields.String()
    zh = fields.String()
    en = fields.String()
    counts = fields.List(fields.Nested(MeasureCountOut))
    clauses = fields.List(
        fields.String(), metadata={"description": "the GB 30871-2022 clauses the line carries"}
    )
    other = fields.Boolean(metadata={"description": "其他安全措施: answered by the lines the applicant adds"})


class MeasureListOut(StrictSchema):
    """The measure list a permit of the type is filed under today (G-02); a permit keeps its version."""

    version = fields.Integer()
    source = fields.String()
    lines = fields.List(fields.Nested(MeasureLineOut))


class PermitTypeOut(StrictSchema):
    """One permit type: grades, approvers, validities, facts, measure list, signature order, gas rule, diagram."""

    type = fields.String()
    prefix = fields.String()
    zh = fields.String()
    en = fields.String()
    grades = fields.List(fields.Nested(GradeOut))
    facts = fields.List(fields.Nested(FactOut))
    certificates = fields.List(fields.Nested(CertificateNeedOut))
    measures = fields.Nested(MeasureListOut)
    signature_order = fields.List(fields.Raw())
    gas = fields.Dict(allow_none=True)
    working_periods_rule = fields.String(
        allow_none=True,
        metadata={
            "description": "the rule under which a permit of the type states its daily working periods (HW-03 for "
            "hot work); null: the type states none"
        },
    )
    events = fields.List(fields.String())
    mermaid = fields.String(metadata={"description": "state diagram (Mermaid stateDiagram-v2)"})


class PermitTypeList(StrictSchema):
    """Every permit type."""

    items = fields.List(fields.Nested(PermitTypeOut))


@blp.route("")
class PermitTypes(MethodView):
    """The catalogue."""

    @blp.response(200, PermitTypeList)
    def get(self) -> dict[str, Any]:
        """List every permit type with its grades, approvers, validities, facts, measure list and state diagram."""
        current_principal()
        return {"items": [wf.catalogue() for wf in WORKFLOWS.values()]}


@blp.route("/<string:permit_type>")
class PermitTypeByName(MethodView):
    """One permit type."""

    @blp.response(200, PermitTypeOut)
    def get(self, permit_type: str) -> dict[str, Any]:
        """Read one permit type of the catalogue."""
        current_principal()
        if permit_type not in WORKFLOWS:
            raise NotFound("没有这种作业类型", f"No permit type {permit_type!r}")
        return WORKFLOWS[permit_type].catalogue()


class GasOut(StrictSchema):
    """A gas of the catalogue: kinds, LEL and occupational exposure limits (GBZ 2.1)."""

    code = fields.String()
    zh = fields.String()
    en = fields.String()
    kinds = fields.List(fields.String(), metadata={"description": "flammable, toxic, oxygen"})
    lel_pct_vol = fields.Float(allow_none=True, metadata={"description": "爆炸下限 % vol"})
    oel_mg_m3 = fields.Float(allow_none=True, metadata={"description": "the limit a spot reading is held to"})


class GasList(StrictSchema):
    """Every gas a reading, an area's media or a permit's media may name."""

    items = fields.List(fields.Nested(GasOut))


@gases_blp.route("")
class Gases(MethodView):
    """The gas catalogue."""

    @gases_blp.response(200, GasList)
    def get(self) -> dict[str, Any]:
        """List the gases: the codes of readings and media, with the limits the gas tests apply."""
        current_principal()
        table = gas.gas_table(settings().policy)
        return {
            "items": [
                {
                    "code": g.code,
                    "zh": g.zh,
                    "en": g.en,
                    "kinds": sorted(g.kinds),
                    "lel_pct_vol": g.lel,
                    "oel_mg_m3": g.oel,
                }
                for g in table.values()
            ]
        }
