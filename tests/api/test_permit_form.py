"""AU-04: each permit prints as its GB 30871 Appendix A form, in three labelled copies with the grade marked."""

from __future__ import annotations

import html as markup
import re
import uuid

import pytest

from permit_service.permits.models import Permit
from tests.api.checks import assert_problem
from tests.api.permit_flows import ACCEPTORS, PermitFlow
from tests.api.test_checklists import OUTSOURCING, SITE, configure, confirm
from tests.plant import iso, portal

# The form of each type in GB 30871-2022 Appendix A, written out here rather than read from the registry.
FORMS = {
    "hot_work": ("A.1", "动火安全作业票"),
    "confined_space": ("A.2", "受限空间安全作业票"),
    "blind_plate": ("A.3", "盲板抽堵安全作业票"),
    "height": ("A.4", "高处安全作业票"),
    "lifting": ("A.5", "吊装安全作业票"),
    "temporary_power": ("A.6", "临时用电安全作业票"),
    "excavation": ("A.7", "动土安全作业票"),
    "road_closure": ("A.8", "断路安全作业票"),
}
GRADE_MARKS = {
    "special": "特级", "level1": "一级", "level2": "二级", "level3": "三级",
    "I": "Ⅰ级", "II": "Ⅱ级", "III": "Ⅲ级", "IV": "Ⅳ级",
}  # fmt: skip
COPY_LABELS = ("第一联 作业单位", "第二联 监护人", "第三联 安全管理部门")


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def printed(flow: PermitFlow, by="applicant", permit_id: str | None = None):
    return flow.client.get(f"/api/v1/permits/{permit_id or flow.id}/form", headers=flow.headers(by))


def copies(html: str) -> list[str]:
    """The copies of the form, each the HTML of its own section."""
    return re.findall(r'<section class="copy".*?</section>', html, flags=re.S)


def text(html: str) -> str:
    """The page's text as a reader sees it: no tags, entities resolved, spaces squeezed."""
    return markup.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_AU_04_form_is_a_self_contained_html_page_of_three_labelled_copies_one_per_printed_page(flow):
    flow.file("hot_work")

    resp = printed(flow)

    assert resp.status_code == 200
    assert resp.content_type == "text/html; charset=utf-8"
    assert resp.headers["ETag"] == f'"{flow.permit["version"]}"'
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    html = resp.get_data(as_text=True)
    assert html.startswith("<!DOCTYPE html>")
    # no external assets: no script, no link, no source of anything
    assert not re.search(r"<script|<link|<img|src=|href=|url\(|@import", html, flags=re.I)
    assert "@media print" in html
    sheets = copies(html)
    assert len(sheets) == 3
    for sheet, label in zip(sheets, COPY_LABELS, strict=True):
        assert label in text(sheet)
        assert flow.number in sheet


def test_AU_04_hot_work_form_shows_title_grade_window_crew_measures_gas_signatures_and_links(flow, factory):
    world = flow.world
    power = flow.another().file("temporary_power", facts={"voltage_v": 380, "connection_point": "2# 柜"})
    flow.file("hot_work", work_content="更换法兰并补焊", linked_permit_ids=[power.id]).to_active()
    grade = GRADE_MARKS[flow.permit["grade"]]

    html = printed(flow).get_data(as_text=True)
    sheet = text(copies(html)[0])

    assert "动火安全作业票" in sheet and "GB 30871-2022 附录 A.1" in sheet
    assert len(re.findall(rf'<span class="grade">{grade} ', html)) == 3  # marked on every copy
    assert world.enterprise.name in sheet and world.area.name in sheet
    assert "自 2026-06-10 10:00 至 2026-06-10 16:00" in sheet  # the window in Asia/Shanghai (UTC 02:00-08:00)
    assert "更换法兰并补焊" in sheet and "可燃气体泄漏、火花飞溅" in sheet
    worker = world.people["worker"]
    welder = next(c for c in worker.certificates if c.kind == "welder")
    # G-13: the certificate submit accepted from the welder's record, by its Chinese name, number and expiry
    assert (
        f"{worker.name} 作业人 worker 特种作业操作证（焊接与热切割作业） {welder.number} 有效期至 {welder.expires_on}"
        in sheet
    )
    assert "动火方式 hot-work methods 电焊" in sheet
    assert f"{world.people['guardian'].name} 监护人 guardian" in sheet
    # G-02: every line of A.1 with its answer (是否涉及), counts and confirmer (确认人)
    leader = world.people["unit_leader"].name
    assert "A1-13 用于连续检测的移动式可燃气体检测仪已配备到位" in sheet
    assert f"portable flammable-gas detector for continuous detection is on site 是 yes {leader}" in sheet
    assert "A1-14 配备的摄录设备已到位，且防爆级别满足安全要求" in sheet
    assert "作业点 CH4 0.1 %vol 合格 pass " + world.people["analyst"].name in sheet
    assert flow.approver() == "safety_dept"  # level 1 in the scene's fire-explosion area (GB B.1)
    approver = world.people["safety_dept"]
    assert (
        f"审批 approval 安全管理部门 safety department {approver.name} 2026-06-10 10:00 "
        "定位坐标在区域边界内 position fix inside the area "  # G-06: the kind of evidence
        f"现场区域 area on site ：{world.area.name}；定位坐标 position ：纬度 35.38，经度 119.52，精度(m) 3"
    ) in sheet
    assert f"安全交底 safety briefing 作业人 worker {worker.name}" in sheet
    assert (
        f"当班班长验票 shift leader's check 岗位当班班长 shift leader {world.people['shift_leader'].name}"
        in sheet
    )
    assert f"关联作业票编号 Linked permits {power.number} (临时用电作业 Temporary electricity" in sheet


@pytest.mark.parametrize("permit_type", sorted(FORMS))
def test_AU_04_every_type_prints_its_own_appendix_a_form_with_its_grade(flow, permit_type):
    flow.file(permit_type).submit()
    code, title = FORMS[permit_type]

    sheet = text(copies(printed(flow).get_data(as_text=True))[0])

    assert f"{title} " in sheet and f"附录 {code} " in sheet
    grade = flow.permit["grade"]
    assert (f"作业级别 Grade {GRADE_MARKS[grade]}" if grade else "作业级别 Grade 不分级 not graded") in sheet


def test_AU_04_a_draft_of_a_graded_type_says_it_is_graded_on_submission(flow):
    flow.file("height")

    assert "作业级别 Grade 提交后定级 graded on submission" in text(
        copies(printed(flow).get_data(as_text=True))[0]
    )


def test_AU_04_user_text_and_names_are_escaped_never_markup(flow, factory):
    guardian = flow.world.people["guardian"]
    guardian.name = '李<img src=x onerror="alert(1)">四'
    factory.session.commit()
    flow.file(
        "hot_work",
        title="<script>alert('动火')</script>补焊",
        work_content='法兰 & "垫片" </td></tr></table>',
    )

    html = printed(flow).get_data(as_text=True)

    assert "<script" not in html and "<img" not in html and "</td></tr></table>" not in html
    assert "&lt;script&gt;alert(&#39;动火&#39;)&lt;/script&gt;补焊" in html
    assert "李&lt;img src=x onerror=&#34;alert(1)&#34;&gt;四" in html
    assert "法兰 &amp; &#34;垫片&#34; &lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;" in html
    assert len(copies(html)) == 3  # the page's structure survives the text


def test_G_02_AU_04_form_names_only_people_of_the_permits_enterprise(flow, factory):
    # A confirmer of another enterprise stored before G-02 was checked at filing: the form leaves it unnamed.
    foreign = flow.world.other_people["unit_leader"]
    foreign.name = "外企确认人"
    flow.file("hot_work")
    permit = factory.session.get(Permit, uuid.UUID(flow.id))
    permit.measures = [
        {**m, "confirmed_by": str(foreign.id)} if m["involved"] else m for m in permit.measures
    ]
    factory.session.commit()

    sheet = text(copies(printed(flow).get_data(as_text=True))[0])

    assert "A1-13 用于连续检测的移动式可燃气体检测仪已配备到位" in sheet
    assert foreign.name not in sheet


def test_AU_04_another_enterprise_cannot_print_the_permit_404(flow):
    flow.file("hot_work")

    resp = printed(flow, by=flow.world.other_people["applicant"])

    assert_problem(resp, 404)


def test_AU_04_the_regulator_of_the_district_and_the_city_print_it_another_district_gets_404(flow):
    flow.file("hot_work").to_approved()

    for regulator in (flow.world.regulator, flow.world.city_regulator):
        resp = printed(flow, by=regulator)
        assert resp.status_code == 200
        assert flow.number in resp.get_data(as_text=True)
    assert_problem(printed(flow, by=flow.world.other_regulator), 404)


def test_AU_04_openapi_documents_the_form_as_html(client):
    spec = client.get("/openapi.json").get_json()

    answer = spec["paths"]["/api/v1/permits/{permit_id}/form"]["get"]["responses"]["200"]

    assert set(answer["content"]) == {"text/html"}


# What a Python value looks like when it leaks onto paper: None, True/False, a repr, a dict or list, key=value,
# a snake_case code (a role, state, department or activity not given its name).
LEAKS = re.compile(r"None|True|False|\w=|=\s|[{}\[\]]|'\w*':|\b[a-z]+_[a-z_]+\b")


def closed_with_sparse_answers(flow: PermitFlow, permit_type: str) -> PermitFlow:
    """A permit of the type with only the facts it needs, taken to closed with the fewest words each step allows
    (acceptance without `traffic_restored` but for a road closure, RC-02: it is then stored as null)."""
    flow.file(permit_type).to_active().complete()
    traffic = {"traffic_restored": True} if permit_type == "road_closure" else {}
    for who in ACCEPTORS.get(permit_type, ("unit_leader",)):
        flow.do("accept", {"site_restored": True, **traffic}, by=who)
    return flow.close()


@pytest.mark.parametrize("permit_type", sorted(FORMS))
def test_AU_04_no_type_prints_none_or_a_python_repr_and_states_and_roles_print_in_chinese(flow, permit_type):
    closed_with_sparse_answers(flow, permit_type)

    page = printed(flow).get_data(as_text=True)

    sheets = [text(sheet) for sheet in copies(page)]
    sheet = sheets[0]
    assert not LEAKS.search(" ".join(sheets)), LEAKS.findall(" ".join(sheets))
    assert "状态 State 已关闭 closed" in sheet
    for signer in (
        "作业申请 application 作业申请人 applicant",
        "作业开始 work started 作业负责人 work leader",
    ):
        assert signer in sheet
    assert "现场已恢复 site restored ：是 yes" in sheet
    assert ("交通已恢复 traffic restored ：是 yes" in sheet) == (
        permit_type == "road_closure"
    )  # else left out


def test_AU_04_facts_and_observations_print_their_codes_by_name(flow):
    flow.file(
        "height",
        facts={
            "height_m": 16,
            "objective_hazards": ["strong_wind", "slippery_surface"],
            "also_involves": ["hot_work"],
            "activities": ["painting"],
            "position": {"x": 120.5, "y": 48},
            "communication_equipment": "防爆对讲机",
        },
    )

    sheet = text(copies(printed(flow).get_data(as_text=True))[0])

    assert not LEAKS.search(sheet), LEAKS.findall(sheet)
    assert (
        "客观危险因素 objective hazards (nine, GB/T 3608) 阵风风力五级以上、作业场地有冰、雪、霜、水、油等易滑物"
        in sheet
    )
    assert (
        "同时涉及的其他特殊作业 other special operations in the same job 动火作业 hot work"
        in sheet.replace("Hot work", "hot work")
    )
    assert "本作业包含的活动 activities under this permit (conflict checks) 喷漆 painting" in sheet
    assert "作业点厂区坐标(m) work point on the plant grid (m) x 120.5，y 48" in sheet


def test_SD_02_AU_04_checklists_print_item_by_item_with_their_confirmer(flow):
    assert configure(flow, "site", SITE).status_code == 200
    assert configure(flow, "outsourcing", OUTSOURCING).status_code == 200
    flow.file(work_unit="日照某安装公司", contractor=True).submit()
    assert confirm(flow, [("site", "S1"), ("site", "S2")]).status_code == 200
    leader = flow.person("unit_leader").name

    sheet = text(copies(printed(flow).get_data(as_text=True))[0])

    assert "现场十个要素 site checklist" in sheet and "外包作业八个必查 outsourcing checklist" in sheet
    assert f"S1 作业票已审批 permit approved {leader} 06-10 10:00" in sheet
    assert f"S2 监护人在场 guardian present {leader} 06-10 10:00" in sheet
    assert "O1 承包商资质已审查 contractor's qualification checked 未确认 not confirmed" in sheet


def test_SD_02_AU_04_own_staffs_work_prints_the_site_checklist_only(flow):
    assert configure(flow, "site", SITE).status_code == 200
    assert configure(flow, "outsourcing", OUTSOURCING).status_code == 200
    flow.file().submit()

    sheet = text(copies(printed(flow).get_data(as_text=True))[0])

    assert (
        "现场十个要素 site checklist" in sheet
        and "S1 作业票已审批 permit approved 未确认 not confirmed" in sheet
    )
    assert "外包作业八个必查" not in sheet and "O1" not in sheet


def test_G_06_AU_04_each_signature_prints_the_kind_of_its_on_site_evidence(flow, factory):
    card = "CARD-SD-1"
    flow.world.people["safety_dept"].positioning_card_id = card  # the level-1 hot-work approver (GB B.1)
    factory.session.commit()
    flow.file("hot_work").submit()
    body = {"sightings": [{"card_id": card, "area_code": flow.world.area.code, "seen_at": iso()}]}
    gate = portal(factory, flow.world)
    pushed = flow.client.post("/api/v1/integrations/card-sightings", json=body, headers=gate.push("s1"))
    assert pushed.status_code == 201, pushed.get_json()
    flow.approve(evidence={"card_id": card}).brief()

    sheet = text(copies(printed(flow).get_data(as_text=True))[0])

    approver = flow.world.people["safety_dept"].name
    assert (
        f"审批 approval 安全管理部门 safety department {approver} 2026-06-10 10:00 "
        f"本人定位卡在区域内识别 own card seen in the area 定位卡 positioning card ：{card}；"
        "定位卡识别时间 card seen at ：2026-06-10 10:00"
    ) in sheet
    assert (
        f"安全交底 safety briefing 作业人 worker {flow.world.people['worker'].name} 2026-06-10 10:00 — —"
        in sheet
    )


def test_AU_04_a_closed_permit_prints_on_a4_with_the_cjk_fonts_of_plant_pcs(flow):
    flow.file("hot_work").to_closed()

    page = printed(flow).get_data(as_text=True)

    assert "@page { size: A4 portrait;" in page and "page-break-after: always" in page
    for font in ("SimSun", "Microsoft YaHei", "Noto Sans CJK SC", "Noto Serif CJK SC"):
        assert f'"{font}"' in page


def test_G_08_AU_04_a_suspension_the_service_made_prints_why_by_name(flow):
    flow.file("hot_work").to_active()
    flow.gas_test([{"gas": "CH4", "value": 0.8, "unit": "%vol"}])  # HW-08: the service stops the work

    sheet = text(copies(printed(flow).get_data(as_text=True))[0])

    assert not LEAKS.search(sheet), LEAKS.findall(sheet)
    assert "原因类别 reason kind ：气体分析不合格 failed gas test" in sheet
