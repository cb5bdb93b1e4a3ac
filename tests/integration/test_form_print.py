"""AU-04 on paper: the form a user saves and prints (README) printed by headless Chromium to PDF, as a person would.
A typical permit prints each of its three copies on one A4 page, in a CJK font the page names."""

from __future__ import annotations

import re

import pytest

from permit_service.demo import SITE_CHECKLIST
from tests.api.permit_flows import PermitFlow
from tests.api.test_checklists import configure, confirm
from tests.api.test_permit_form import COPY_LABELS
from tests.integration.browser import chromium, needs_chromium

pytestmark = needs_chromium
A4_POINTS = (595, 842)  # 210 x 297 mm
# The fonts the form's stack names that a Linux print can use (the Windows ones are not on a Debian machine).
CJK_FONTS = rb"NotoSerifCJK|NotoSansCJK|SourceHan|WenQuanYi|SimSun|MicrosoftYaHei"


def print_to_pdf(html: str, tmp_path) -> bytes:
    """The page printed by Chromium as a person saving the form and printing it would."""
    page, pdf = tmp_path / "permit.html", tmp_path / "permit.pdf"
    page.write_text(html, encoding="utf-8")
    run = chromium(page.as_uri(), tmp_path / "profile", f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert pdf.exists(), run.stderr[-2000:]
    return pdf.read_bytes()


def pages(pdf: bytes) -> int:
    """How many pages the PDF has (Chromium writes its page objects uncompressed)."""
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


def page_sizes(pdf: bytes) -> set[tuple[float, float]]:
    """The page sizes the PDF uses, in points."""
    return {(float(w), float(h)) for w, h in re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)}


@pytest.fixture
def typical(client, factory) -> PermitFlow:
    """A closed hot-work permit of an enterprise with the ten-item site checklist, every item confirmed (SD-02)."""
    flow = PermitFlow(client, factory, factory.world())
    items = [{"code": code, "text_zh": zh, "text_en": en} for code, zh, en in SITE_CHECKLIST]
    assert configure(flow, "site", items).status_code == 200
    flow.file("hot_work").submit()
    assert confirm(flow, [("site", item["code"]) for item in items]).status_code == 200
    flow.reload().approve().brief().shift_check().gas_test().activate().complete().accept().close()
    return flow


def test_AU_04_a_typical_permit_prints_each_copy_on_one_a4_page_in_a_cjk_font(typical, tmp_path):
    html = typical.client.get(f"{typical.url}/form", headers=typical.headers("applicant")).get_data(
        as_text=True
    )

    pdf = print_to_pdf(html, tmp_path)

    assert pages(pdf) == len(COPY_LABELS)  # one page per copy
    [(width, height)] = page_sizes(pdf)
    assert abs(width - A4_POINTS[0]) < 2 and abs(height - A4_POINTS[1]) < 2, (width, height)
    # The text is set in an embedded CJK font: a missing one would print every character as a box.
    assert re.search(rb"/FontName\s*/[A-Z]{6}\+(" + CJK_FONTS + rb")", pdf), "no CJK font in the PDF"
