"""AU-04, G-07: the printed form's QR code opens a public page that says whether the paper is live right now."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import segno

from permit_service.permits.verify import token_for
from tests.api.permit_flows import PermitFlow
from tests.api.test_permit_form import GRADE_MARKS, copies, printed, text

SCANS_PER_MINUTE = 5


@pytest.fixture
def config(config):
    config.verify_rate_per_minute = SCANS_PER_MINUTE
    return config


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def token(flow: PermitFlow, permit_id: str | None = None) -> str:
    with flow.factory.app.app_context():
        return token_for(uuid.UUID(permit_id or flow.id))


def scanned(flow: PermitFlow, permit_id: str | None = None):
    """The page a phone opens from the permit's QR code: no login."""
    return flow.client.get(f"/v/{token(flow, permit_id)}")


def page_of(flow: PermitFlow, permit_id: str | None = None) -> str:
    resp = scanned(flow, permit_id)
    assert resp.status_code == 200
    assert resp.content_type == "text/html; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    return resp.get_data(as_text=True)


def verdict(html: str) -> str:
    return re.search(r'data-verdict="(\w+)"', html).group(1)


def assert_names_no_one(flow: PermitFlow, html: str) -> None:
    people = [*flow.world.people.values(), *flow._extra.values()]
    assert people
    for person in people:
        assert person.name not in html


def assert_shows_the_permit(flow: PermitFlow, html: str) -> None:
    shown = text(html)
    for expected in (flow.number, "动火作业", flow.world.enterprise.name, flow.world.area.name):
        assert expected in shown


def test_AU_04_the_form_carries_in_each_copy_the_qr_code_of_the_permits_public_page(flow):
    flow.file("hot_work")

    html = printed(flow).get_data(as_text=True)

    url = f"http://localhost/v/{token(flow)}"
    qr = segno.make(url, error="m").svg_inline(scale=3, border=2, omitsize=False)
    for sheet in copies(html):
        assert qr in sheet
    assert not re.search(r"<script|<img|src=|href=", html, flags=re.I)  # inline, nothing fetched
    assert flow.client.get(url).status_code == 200


def test_AU_04_an_active_permit_reads_live_with_number_type_grade_enterprise_area_and_window(flow):
    flow.file("hot_work").to_active()

    html = page_of(flow)

    assert verdict(html) == "live"
    assert "作业中" in html and "有效" in html
    assert_shows_the_permit(flow, html)
    assert GRADE_MARKS[flow.permit["grade"]] in text(html)
    assert_names_no_one(flow, html)


def test_AU_04_a_suspended_permit_reads_suspended(flow):
    flow.file("hot_work").to_active().suspend()

    html = page_of(flow)

    assert verdict(html) == "suspended"
    assert "已暂停" in html and "不得作业" in html
    assert_shows_the_permit(flow, html)
    assert_names_no_one(flow, html)


def test_AU_04_a_closed_permit_reads_closed_and_not_valid(flow):
    flow.file("hot_work").to_closed()

    html = page_of(flow)

    assert verdict(html) == "ended"
    assert "已关闭" in html and "已失效" in html
    assert_names_no_one(flow, html)


def test_AU_04_a_permit_past_its_window_reads_expired_even_before_the_scheduler_marks_it(flow, clock):
    flow.file("hot_work").to_active()
    assert verdict(page_of(flow)) == "live"

    clock.advance(timedelta(days=9))
    html = page_of(flow)

    assert verdict(html) == "ended"
    assert "已过期" in html and "EXPIRED" in html
    assert_names_no_one(flow, html)


def test_G_07_a_voided_permit_reads_voided_and_a_reissued_one_names_its_successor(flow):
    voided = flow.another().file("hot_work").submit().approve()
    voided.do("void", {"reason": "作业内容变更"}, by="applicant")
    html = page_of(voided)
    assert verdict(html) == "ended"
    assert "已作废" in html and "VOIDED" in html and "已重新签发" not in html
    assert_names_no_one(voided, html)

    flow.file("hot_work").submit().approve()
    new = flow.client.post(
        f"{flow.url}/reissue", json={"reason": "范围变更"}, headers=flow.headers("applicant")
    )
    assert new.status_code == 201, new.get_json()
    html = page_of(flow)
    assert "已作废" in html and "已重新签发" in html and new.get_json()["number"] in text(html)
    assert verdict(page_of(flow, new.get_json()["id"])) == "pending"  # the new paper has its own token


def test_AU_04_a_token_this_service_did_not_issue_is_404_and_says_the_copy_may_be_forged(flow):
    flow.file("hot_work")
    real = token(flow)
    forged_mac = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    someone_else = token(flow, str(uuid.uuid4()))  # a well-formed token of no permit

    for bad in (forged_mac, someone_else, "abc", "x" * 43, "%00"):
        resp = flow.client.get(f"/v/{bad}")
        assert resp.status_code == 404, bad
        assert "伪造" in resp.get_data(as_text=True)


def test_AU_04_the_page_is_rate_limited_per_address_with_retry_after(flow):
    flow.file("hot_work")

    answers = [scanned(flow).status_code for _ in range(SCANS_PER_MINUTE + 1)]

    assert answers == [200] * SCANS_PER_MINUTE + [429]
    limited = scanned(flow)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "过于频繁" in limited.get_data(as_text=True)
    other = flow.client.get(f"/v/{token(flow)}", environ_overrides={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200
