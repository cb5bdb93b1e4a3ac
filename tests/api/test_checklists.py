"""SD-02 through the HTTP API: an enterprise keeps its site and outsourcing checklists, approval waits for a named
confirmer of each item that applies."""

from __future__ import annotations

import pytest

from tests.api.checks import assert_problem
from tests.api.permit_flows import PermitFlow

SITE = [
    {"code": "S1", "text_zh": "作业票已审批", "text_en": "permit approved"},
    {"code": "S2", "text_zh": "监护人在场", "text_en": "guardian present"},
]
OUTSOURCING = [{"code": "O1", "text_zh": "承包商资质已审查", "text_en": "contractor's qualification checked"}]


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def _list_url(flow: PermitFlow, kind: str, enterprise=None) -> str:
    return f"/api/v1/enterprises/{(enterprise or flow.world.enterprise).id}/checklists/{kind}"


def configure(flow: PermitFlow, kind: str, items: list[dict], *, by="enterprise_admin", if_match='"0"'):
    return flow.client.put(
        _list_url(flow, kind), json={"items": items}, headers=flow.headers(by, **{"If-Match": if_match})
    )


def confirm(flow: PermitFlow, items: list[tuple[str, str]], *, by="applicant"):
    """PUT the permit's confirmations, each item confirmed by the unit leader."""
    body = {
        "items": [
            {"checklist": kind, "code": code, "confirmed_by": str(flow.person("unit_leader").id)}
            for kind, code in items
        ]
    }
    flow.reload()
    return flow.client.put(
        f"{flow.url}/checklist-confirmations",
        json=body,
        headers=flow.headers(by, **{"If-Match": f'"{flow.permit["version"]}"'}),
    )


def test_SD_02_admin_configures_the_lists_and_staff_and_regulator_read_them(flow):
    never = flow.client.get(_list_url(flow, "site"), headers=flow.headers("worker"))
    assert never.status_code == 200 and never.headers["ETag"] == '"0"'
    assert never.get_json()["items"] == []
    saved = configure(flow, "site", SITE)
    assert saved.status_code == 200, saved.get_json()
    assert saved.headers["ETag"] == '"1"'
    for reader in (flow.person("worker"), flow.world.regulator):
        read = flow.client.get(_list_url(flow, "site"), headers=flow.headers(reader))
        assert read.status_code == 200 and read.get_json()["items"] == SITE
    changed = configure(flow, "site", SITE[:1], if_match='"1"')
    assert changed.status_code == 200 and changed.get_json()["items"] == SITE[:1]
    assert changed.headers["ETag"] == '"2"'


def test_SD_02_contractor_work_waits_for_both_checklists_then_is_approved(flow):
    assert configure(flow, "site", SITE).status_code == 200
    assert configure(flow, "outsourcing", OUTSOURCING).status_code == 200
    flow.file(work_unit="日照某安装公司", contractor=True)
    assert flow.permit["contractor"] is True and flow.permit["work_unit"] == "日照某安装公司"
    flow.submit()
    problem = flow.refused("approve", "SD-02", {"evidence": flow.evidence()}, by=flow.approver())
    assert all(code in problem["message_en"] for code in ("S1", "S2", "O1"))
    assert "外包作业八个必查" in problem["message_zh"]
    assert "approve" not in flow.reload().permit["allowed_actions"]

    partial = confirm(flow, [("site", "S1"), ("site", "S2")])
    assert partial.status_code == 200, partial.get_json()
    assert [(i["checklist"], i["code"]) for i in partial.get_json()["open"]] == [("outsourcing", "O1")]
    problem = flow.refused("approve", "SD-02", {"evidence": flow.evidence()}, by=flow.approver())
    assert "O1" in problem["message_en"] and "S1" not in problem["message_en"]

    assert confirm(flow, [("site", "S1"), ("site", "S2"), ("outsourcing", "O1")]).status_code == 200
    flow.approve()
    assert flow.state == "approved"
    late = confirm(flow, [("site", "S1")])
    assert assert_problem(late, 409)["rule"] == "SD-02"


def test_SD_02_own_staff_work_needs_only_the_site_checklist(flow):
    assert configure(flow, "site", SITE).status_code == 200
    assert configure(flow, "outsourcing", OUTSOURCING).status_code == 200
    flow.file().submit()
    assert confirm(flow, [("site", "S1"), ("site", "S2")]).status_code == 200
    flow.approve()
    assert flow.state == "approved"


def test_SD_02_an_enterprise_without_checklists_has_nothing_to_confirm(flow):
    flow.file(contractor=True).submit().approve()
    assert flow.state == "approved"


def test_SD_02_only_the_enterprise_admin_changes_a_list(flow):
    assert_problem(configure(flow, "site", SITE, by="safety_dept"), 403)
    regulator = flow.client.put(
        _list_url(flow, "site"),
        json={"items": SITE},
        headers=flow.headers(flow.world.regulator, **{"If-Match": '"0"'}),
    )
    assert_problem(regulator, 403)
    assert flow.client.get(_list_url(flow, "site"), headers=flow.headers("worker")).get_json()["items"] == []


def test_SD_02_a_stale_if_match_is_412_and_none_428(flow):
    assert configure(flow, "site", SITE).status_code == 200
    assert_problem(configure(flow, "site", SITE[:1], if_match='"0"'), 412)
    missing = flow.client.put(
        _list_url(flow, "site"), json={"items": SITE}, headers=flow.headers("enterprise_admin")
    )
    assert_problem(missing, 428)


def test_SD_02_another_enterprise_lists_are_not_found(flow):
    other = flow.world.other_enterprise
    outsider = flow.world.other_people["enterprise_admin"]
    url = _list_url(flow, "site")
    assert_problem(flow.client.get(url, headers=flow.headers(outsider)), 404)
    put = flow.client.put(url, json={"items": SITE}, headers=flow.headers(outsider, **{"If-Match": '"0"'}))
    assert_problem(put, 404)
    assert_problem(flow.client.get(_list_url(flow, "site", other), headers=flow.headers("worker")), 404)
    assert_problem(flow.client.get(url, headers=flow.headers(flow.world.other_regulator)), 404)


def test_SD_02_a_list_names_each_code_once(flow):
    assert_problem(configure(flow, "site", [SITE[0], SITE[0]]), 422, fields={"items"})


def test_SD_02_confirmations_name_items_of_the_lists_and_people_of_the_enterprise(flow):
    assert configure(flow, "site", SITE).status_code == 200
    flow.file()
    body = {
        "items": [
            {"checklist": "site", "code": "S9", "confirmed_by": str(flow.person("unit_leader").id)},
            {"checklist": "outsourcing", "code": "S1", "confirmed_by": str(flow.person("unit_leader").id)},
            {"checklist": "site", "code": "S1", "confirmed_by": str(flow.world.other_people["worker"].id)},
        ]
    }
    resp = flow.client.put(
        f"{flow.url}/checklist-confirmations",
        json=body,
        headers=flow.headers("applicant", **{"If-Match": f'"{flow.permit["version"]}"'}),
    )
    assert_problem(resp, 422, fields={"items.0.code", "items.1.code", "items.2.confirmed_by"})


def test_SD_02_only_the_applicant_records_confirmations(flow):
    assert configure(flow, "site", SITE).status_code == 200
    flow.file()
    assert_problem(confirm(flow, [("site", "S1")], by="work_leader"), 403)
    opened = flow.client.get(f"{flow.url}/checklist-confirmations", headers=flow.headers("work_leader"))
    assert [i["code"] for i in opened.get_json()["open"]] == ["S1", "S2"]


def test_SD_02_a_draft_corrects_its_work_unit_and_a_reissue_keeps_it_but_confirms_afresh(flow):
    assert configure(flow, "site", SITE).status_code == 200
    flow.file(work_unit="本厂检修车间")
    patched = flow.client.patch(
        flow.url,
        json={"work_unit": "日照某安装公司", "contractor": True},
        headers=flow.headers("applicant", **{"If-Match": f'"{flow.permit["version"]}"'}),
    )
    assert patched.status_code == 200, patched.get_json()
    assert confirm(flow, [("site", "S1"), ("site", "S2")]).status_code == 200
    flow.submit().approve()
    reissued = flow.client.post(
        f"{flow.url}/reissue", json={"reason": "范围变更"}, headers=flow.headers("applicant")
    )
    assert reissued.status_code == 201, reissued.get_json()
    new = reissued.get_json()
    assert (new["work_unit"], new["contractor"]) == ("日照某安装公司", True)
    opened = flow.client.get(
        f"/api/v1/permits/{new['id']}/checklist-confirmations", headers=flow.headers("applicant")
    )
    assert opened.get_json()["items"] == [] and [i["code"] for i in opened.get_json()["open"]] == ["S1", "S2"]
