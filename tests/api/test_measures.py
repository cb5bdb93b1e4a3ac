"""G-02 through the HTTP API: each type's Appendix A list is answered line by line, every involved line confirmed
by a named active person of the enterprise after submission and before approval; permits filed before the lists
keep what they have."""

from __future__ import annotations

import html as markup
import re
import uuid

import pytest
import sqlalchemy as sa

from permit_service.permits.models import Permit
from tests.api.checks import assert_problem
from tests.api.permit_flows import API, PermitFlow, measure_answers

# The forms of GB 30871-2022 Appendix A: how many lines each lists, and the wording of one of its lines, written
# out here from the standard rather than read from the catalogue.
FORMS = {
    "hot_work": (16, "与动火设备相连接的所有管线已断开，加盲板（ ）块，未采取水封或仅关闭阀门的方式代替盲板"),
    "confined_space": (15, "转动设备已切断电源，电源开关处已加锁并悬挂“禁止合闸”标志牌"),
    "blind_plate": (11, "同一管道上未同时进行两处及两处以上的盲板抽堵作业"),
    "height": (15, "30m以上高处作业时，作业人员已配备通信、联络工具"),
    "lifting": (20, "起吊物的质量（ t）经确认，在吊装机械的承重范围内"),
    "temporary_power": (14, "临时用电的单相和混用线路要求按照TN-S三相五线制方式接线"),
    "excavation": (11, "易燃易爆、有毒气体存在的场所动土深度超过1.2m，已按照受限空间作业要求采取了措施"),
    "road_closure": (4, "夜间作业设置警示灯"),
}


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def approve_attempt(flow: PermitFlow):
    return flow.attempt("approve", {"evidence": flow.evidence()}, by=flow.approver())


def sheet(flow: PermitFlow) -> str:
    """The first copy of the printed form as a reader sees its text."""
    page = flow.client.get(f"{flow.url}/form", headers=flow.headers("applicant")).get_data(as_text=True)
    first = re.findall(r'<section class="copy".*?</section>', page, flags=re.S)[0]
    return markup.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", first)))


def measure_rows(flow: PermitFlow) -> list[str]:
    """The rows of the printed form's measure table (first copy), as text."""
    page = flow.client.get(f"{flow.url}/form", headers=flow.headers("applicant")).get_data(as_text=True)
    first = re.findall(r'<section class="copy".*?</section>', page, flags=re.S)[0]
    table = first.split("安全措施 <span", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td[ >].*?</tr>", table, flags=re.S)
    return [markup.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))).strip() for row in rows]


def events(flow: PermitFlow, kind: str) -> list[dict]:
    items = flow.client.get(f"{flow.url}/events", headers=flow.headers("applicant")).get_json()["items"]
    return [e for e in items if e["kind"] == kind]


# --- the list in the catalogue --------------------------------------------------------------------------


def test_G_02_the_catalogue_publishes_each_types_list_in_the_standards_wording_with_its_version(flow):
    types = flow.client.get("/api/v1/permit-types", headers=flow.headers("applicant")).get_json()["items"]

    for entry in types:
        count, wording = FORMS[entry["type"]]
        measures = entry["measures"]
        assert measures["version"] == 1 and measures["source"].startswith("GB 30871-2022 附录 A.")
        assert len(measures["lines"]) == count
        assert wording in [line["zh"] for line in measures["lines"]]
        assert all(line["en"] for line in measures["lines"])
        assert measures["lines"][-1]["zh"] == "其他安全措施" and measures["lines"][-1]["other"]
    hot_work = next(e for e in types if e["type"] == "hot_work")["measures"]["lines"]
    assert [c["name"] for c in hot_work[1]["counts"]] == ["blinds"]
    assert [c["name"] for c in hot_work[7]["counts"]] == ["extinguishers", "fire_blankets", "fire_hoses"]


# --- answering at filing, checked at submission ----------------------------------------------------------


def test_G_02_one_free_text_measure_no_longer_approves(flow):
    # The earlier practice: one free-text line confirmed by anyone. Its confirmer is not taken at filing any more,
    old = [
        {"code": "M1", "text": "置换合格", "involved": True, "confirmed_by": str(flow.person("guardian").id)}
    ]
    filed = flow.client.post(API, json=flow.body(measures=old), headers=flow.headers("applicant"))
    assert_problem(filed, 422, fields={"measures.0.confirmed_by"})
    # and a free-text line alone leaves the standard's list unanswered: the permit is not even submitted.
    flow.file(measures=[{"text": "置换合格"}])

    problem = flow.refused("submit", "G-02", by="applicant")

    for code in ("A1-01", "A1-08", "A1-15"):
        assert code in problem["message_zh"] and code in problem["message_en"]
    assert flow.reload().state == "draft"


def test_G_02_an_unanswered_line_blocks_submission_naming_it(flow):
    answers = [a for a in measure_answers("hot_work") if a["code"] != "A1-05"]
    flow.file(measures=answers)

    problem = flow.refused("submit", "G-02", by="applicant")

    assert "A1-05" in problem["message_en"] and "A1-04" not in problem["message_en"]
    assert "未回答是否涉及" in problem["message_zh"]


def test_G_02_an_unanswered_line_blocks_approval_naming_it(flow, factory):
    flow.file().submit()
    # Answers arranged in the database to lack a line (nothing in the API lets a submitted permit lose one).
    permit = factory.session.get(Permit, uuid.UUID(flow.id))
    permit.measures = [m for m in permit.measures if m["code"] != "A1-05"]
    factory.session.commit()
    flow.reload()

    problem = assert_problem(approve_attempt(flow), 409)

    assert problem["rule"] == "G-02" and "A1-05" in problem["message_en"]
    assert flow.reload().state == "submitted"


def test_G_02_an_involved_line_without_its_counts_is_refused_at_submission(flow):
    answers = [
        {**a, "counts": {"extinguishers": 4}} if a["code"] == "A1-08" else a
        for a in measure_answers("hot_work")
    ]
    flow.file(measures=answers)

    problem = flow.refused("submit", "G-02", by="applicant")

    assert "A1-08 (fire_blankets, fire_hoses)" in problem["message_en"]


@pytest.mark.parametrize(
    ("answer", "field"),
    [
        ({"code": "A9-01", "involved": True}, "code"),
        ({"code": "A1-16", "involved": True}, "code"),  # 其他安全措施 is answered by added lines
        ({"code": "A1-01"}, "involved"),
        ({"code": "A1-01", "involved": True, "text": "改写的条文"}, "text"),
        ({"code": "A1-01", "involved": True, "counts": {"blinds": 1}}, "counts"),
        ({"code": "A1-02", "involved": False, "counts": {"blinds": 1}}, "counts"),
        ({"code": "A1-02", "involved": True, "counts": {"blinds": 0}}, "counts"),
        ({"involved": True}, "text"),
        ({"text": "加装防火毯", "involved": False}, "involved"),
    ],
)
def test_G_02_an_answer_that_does_not_fit_the_list_is_422_and_nothing_is_filed(
    flow, db_session, answer, field
):
    before = db_session.scalar(sa.select(sa.func.count()).select_from(Permit))
    db_session.commit()

    resp = flow.client.post(
        API,
        json=flow.body(measures=[*measure_answers("hot_work")[3:6], answer]),
        headers=flow.headers("applicant"),
    )

    assert_problem(resp, 422, fields={f"measures.3.{field}"})
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Permit)) == before


def test_G_02_a_line_answered_twice_is_422(flow):
    answers = measure_answers("hot_work")
    resp = flow.client.post(
        API, json=flow.body(measures=[*answers, answers[0]]), headers=flow.headers("applicant")
    )

    assert_problem(resp, 422, fields={f"measures.{len(answers)}.code"})


# --- confirming line by line ------------------------------------------------------------------------------


def test_G_02_involved_lines_are_confirmed_one_by_one_each_an_event_then_approval_passes(flow):
    flow.file().submit(confirm=False)
    assert "approve" not in flow.reload(by=flow.approver()).permit["allowed_actions"]

    problem = assert_problem(approve_attempt(flow), 409)
    assert problem["rule"] == "G-02"
    assert "A1-02, A1-08, A1-13" in problem["message_en"] and "A1-02, A1-08, A1-13" in problem["message_zh"]

    resp = flow.confirmation("A1-02", "unit_leader")
    assert resp.status_code == 200, resp.get_json()
    assert resp.headers["ETag"] == f'"{flow.permit["version"] + 1}"'
    body = resp.get_json()
    assert body["open"] == ["A1-08", "A1-13"]
    line = next(m for m in body["lines"] if m["code"] == "A1-02")
    assert line["confirmed_by"] == str(flow.person("unit_leader").id) and line["confirmed_at"]
    recorded = events(flow, "permit.measure_confirmed")
    assert [(e["data"]["code"], e["data"]["confirmed_by"]) for e in recorded] == [
        ("A1-02", str(flow.person("unit_leader").id))
    ]
    assert recorded[0]["actor_id"] == str(flow.person("applicant").id)

    flow.reload()
    # The confirmer may record their own confirmation in person.
    assert flow.confirmation("A1-08", "guardian", by="guardian").status_code == 200
    flow.reload().confirm_measures()
    assert len(events(flow, "permit.measure_confirmed")) == 3

    flow.approve()
    assert flow.state == "approved"


def test_G_02_lines_not_involved_need_no_confirmer_and_take_none(flow):
    flow.file(measures=measure_answers("hot_work", involved={"A1-13": {}})).submit(confirm=False)

    refused = flow.confirmation("A1-01")

    problem = assert_problem(refused, 409)
    assert problem["rule"] == "G-02" and "A1-01" in problem["message_en"]
    flow.reload().confirmation("A1-13")
    flow.reload().approve()
    assert flow.state == "approved"


@pytest.mark.parametrize("confirmer", ["other_enterprise", "inactive", "unknown"])
def test_G_02_a_confirmer_of_another_enterprise_or_inactive_is_422_and_nothing_changes(
    flow, factory, confirmer
):
    person_id = {
        "other_enterprise": lambda: flow.world.other_people["unit_leader"].id,
        "inactive": lambda: factory.person("unit_leader", enterprise=flow.world.enterprise, active=False).id,
        "unknown": uuid.uuid4,
    }[confirmer]()
    flow.file().submit(confirm=False)
    version = flow.reload().permit["version"]

    resp = flow.client.put(
        f"{flow.url}/measures/A1-02/confirmation",
        json={"confirmed_by": str(person_id)},
        headers=flow.headers("applicant", **{"If-Match": f'"{version}"'}),
    )

    assert_problem(resp, 422, fields={"confirmed_by"})
    assert flow.reload().permit["version"] == version
    assert not events(flow, "permit.measure_confirmed")


def test_G_02_confirmations_come_after_submission_and_before_approval(flow):
    flow.file()
    draft = flow.confirmation("A1-02")
    assert assert_problem(draft, 409)["rule"] == "G-02"

    flow.submit().approve()
    after = flow.confirmation("A1-02", "guardian")
    assert assert_problem(after, 409)["rule"] == "G-02"
    assert next(m for m in flow.reload().permit["measures"] if m["code"] == "A1-02")["confirmed_by"] == str(
        flow.person("unit_leader").id
    )


def test_G_02_only_the_applicant_or_the_confirmer_in_person_records_a_confirmation(flow):
    flow.file().submit(confirm=False)

    assert_problem(flow.confirmation("A1-02", "unit_leader", by="worker"), 403)
    assert_problem(flow.confirmation("A1-99"), 404)
    stale = flow.client.put(
        f"{flow.url}/measures/A1-02/confirmation",
        json={"confirmed_by": str(flow.person("unit_leader").id)},
        headers=flow.headers("applicant", **{"If-Match": '"1"'}),
    )
    assert_problem(stale, 412)
    assert not events(flow, "permit.measure_confirmed")


def test_G_02_added_lines_are_involved_confirmed_like_listed_ones_and_printed_under_other_measures(flow):
    answers = [*measure_answers("hot_work"), {"text": "动火点下方铺设防火毯"}]
    flow.file(measures=answers).submit(confirm=False)
    added = next(m for m in flow.permit["measures"] if m["added"])
    assert (added["code"], added["zh"], added["involved"]) == ("A1-16.1", "动火点下方铺设防火毯", True)
    other = next(m for m in flow.permit["measures"] if m["code"] == "A1-16")
    assert other["involved"] is True

    flow.confirm_measures().approve()

    assert flow.state == "approved"
    assert f"A1-16.1 动火点下方铺设防火毯 是 yes {flow.person('unit_leader').name}" in sheet(flow)


def test_G_02_a_reissued_permit_keeps_the_answers_and_is_confirmed_afresh(flow):
    flow.file().submit().approve()

    resp = flow.client.post(
        f"{flow.url}/reissue", json={"reason": "变更作业内容"}, headers=flow.headers("applicant")
    )

    assert resp.status_code == 201, resp.get_json()
    new = resp.get_json()
    assert new["measure_list_version"] == 1
    old_answers = {m["code"]: (m["involved"], m["counts"]) for m in flow.reload().permit["measures"]}
    assert {m["code"]: (m["involved"], m["counts"]) for m in new["measures"]} == old_answers
    assert not any(m["confirmed_by"] for m in new["measures"])


# --- counts and the printed form --------------------------------------------------------------------------


def test_G_02_AU_04_counts_are_recorded_and_printed_with_every_answer_and_confirmer(flow):
    flow.file().submit()
    permit = flow.reload().permit
    blinds = next(m for m in permit["measures"] if m["code"] == "A1-02")
    assert blinds["counts"] == {"blinds": 2}

    text = sheet(flow)

    leader = flow.person("unit_leader").name
    assert "A1-02 与动火设备相连接的所有管线已断开，加盲板（ ）块" in text
    assert f"是 yes 盲板 2 块 {leader}" in text
    assert f"是 yes 灭火器 4 台; 灭火毯 2 块; 消防蒸汽带或消防水带 1 根 {leader}" in text
    assert "A1-04 油气罐区动火点同一防火堤内和防火间距内的油品储罐未进行脱水和取样作业" in text
    rows = measure_rows(flow)
    assert next(r for r in rows if r.startswith("A1-04 ")).endswith("否 no")


@pytest.mark.parametrize("permit_type", sorted(FORMS))
def test_G_02_AU_04_the_printed_form_lists_every_appendix_a_line_of_the_type(flow, permit_type):
    count, wording = FORMS[permit_type]
    flow.file(permit_type)

    rows = measure_rows(flow)

    assert len(rows) == count
    prefix = f"A{sorted(FORMS, key=list(FORMS).index).index(permit_type) + 1}"
    assert [row.split(" ", 1)[0] for row in rows] == [f"{prefix}-{n:02d}" for n in range(1, count + 1)]
    assert any(wording in row for row in rows)
    assert rows[-1].startswith(f"{prefix}-{count:02d} 其他安全措施 other safety measures")


def test_G_02_a_draft_prints_its_unanswered_lines_as_not_recorded(flow):
    flow.file(measures=[])

    rows = measure_rows(flow)

    assert len(rows) == 16
    assert all("未填 not recorded" in row for row in rows[:15])


# --- permits filed before the lists ------------------------------------------------------------------------


def arrange_legacy(flow: PermitFlow, factory, confirmer) -> None:
    """A submitted permit as filed before the lists: list version 0, free-text lines with their confirmers."""
    flow.file().submit()
    permit = factory.session.get(Permit, uuid.UUID(flow.id))
    permit.measure_list_version = 0
    permit.measures = [
        {"code": "M1", "text": "置换合格", "involved": True, "confirmed_by": str(confirmer.id)},
        {"code": "M2", "text": "盲板隔离", "involved": False, "confirmed_by": None},
    ]
    factory.session.commit()
    flow.reload()


def test_G_02_a_permit_filed_before_the_lists_still_approves_and_prints_what_it_has(flow, factory):
    arrange_legacy(flow, factory, flow.person("unit_leader"))
    assert flow.permit["measure_list_version"] == 0
    assert [m["code"] for m in flow.permit["measures"]] == ["M1", "M2"]
    assert_problem(flow.confirmation("M1", "guardian"), 409)

    flow.approve()

    assert flow.state == "approved"
    text = sheet(flow)
    assert "按旧版措施办理 / filed under the earlier measure practice" in text
    assert f"M1 置换合格 是 yes {flow.person('unit_leader').name}" in text
    assert "A1-01" not in text


def test_G_02_a_permit_filed_before_the_lists_with_an_unconfirmed_line_is_refused_as_before(flow, factory):
    arrange_legacy(flow, factory, flow.person("unit_leader"))
    permit = factory.session.get(Permit, uuid.UUID(flow.id))
    permit.measures = [{**permit.measures[0], "confirmed_by": None}]
    factory.session.commit()

    problem = assert_problem(approve_attempt(flow.reload()), 409)

    assert problem["rule"] == "G-02" and "M1" in problem["message_en"]
