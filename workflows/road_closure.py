"""Road closure 断路作业 (GB 30871-2022 ch. 12, form A.8)."""

from __future__ import annotations

from workflows.base import Workflow
from workflows.facts import Fact
from workflows.forms import Form
from workflows.grading import Grade
from workflows.rules import general as g

WORKFLOW = Workflow(
    type="road_closure",
    prefix="DL",
    zh="断路作业",
    en="Road closure",
    form=Form("A.8", "断路安全作业票", "Road closure safety permit"),
    grades=(Grade(None, "—", "—", ("specialist_dept",), 72),),
    validity_policy=True,
    facts=(
        Fact("road", "text", "断路地段", "road section closed", required=True, rule="RC-01"),
        Fact(
            "traffic_plan",
            "text",
            "交通组织方案",
            "traffic plan",
            required=True,
            rule="RC-01",
            multiline=True,
        ),
        Fact("fire_access_kept", "bool", "保证消防车通行", "fire-engine access kept", rule="RC-01"),
    ),
    countersign_rule="RC-01",
    countersign_departments=("fire", "safety"),
    acceptance=(("unit_leader", "safety_dept"),),
    acceptance_rule="RC-02",
    guards={
        "submit": (
            g.fact_given(
                "fire_access_kept",
                "RC-01",
                "断路须保证消防车通行",
                "the traffic plan must keep fire-engine access",
            ),
        ),
        "accept": (
            g.payload_confirms(
                "traffic_restored", "RC-02", "验收前须恢复交通", "restore traffic before acceptance"
            ),
        ),
    },
)
