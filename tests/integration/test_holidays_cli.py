"""`permit-service holidays`: each year's source, proposals for any year, and the notice imported from a file
(FZ-04)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from permit_service.audit.models import Event
from permit_service.cli import main
from permit_service.freezes.models import CalendarYear
from tests.conftest import TEST_JWT_SECRET

NOTICE_YAML = """\
year: 2027
notice: 国办发明电〔2026〕1号
periods:
  - {name_zh: 元旦, first: 2027-01-01, last: 2027-01-03}
  - {name_zh: 春节, first: 2027-02-06, last: 2027-02-12}
workdays: [2027-02-20]
"""


@pytest.fixture
def cli_env(monkeypatch, database_url):
    """The command runs against the test database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PERMIT_ENV", "test")
    monkeypatch.setenv("JWT_SECRET_KEY", TEST_JWT_SECRET)


def run(*args: str):
    return CliRunner().invoke(main, ["holidays", *args])


def test_holidays_list_prints_the_source_periods_and_make_up_days_of_a_year(cli_env):
    result = run("list", "--year", "2026")
    assert result.exit_code == 0, result.output
    assert "2026: official" in result.output
    assert "2026-10-01 .. 2026-10-07  国庆节 / National Day" in result.output
    assert "2026-09-20" in result.output  # a make-up working day


def test_FZ_04_a_year_no_package_publishes_is_listed_and_proposed_as_provisional(cli_env, factory):
    factory.world()
    listed = run("list", "--year", "2099")
    assert listed.exit_code == 0, listed.output
    assert "2099: provisional" in listed.output
    assert "春节 / Spring Festival  (provisional 推算)" in listed.output
    proposed = run("propose", "--year", "2099")
    assert proposed.exit_code == 0, proposed.output
    assert "7 freeze(s) proposed or moved for 2099" in proposed.output


def test_FZ_04_the_notice_is_imported_from_yaml_previewed_then_confirmed(
    cli_env, factory, db_session, tmp_path
):
    world = factory.world()
    notice = tmp_path / "2027.yaml"
    notice.write_text(NOTICE_YAML, encoding="utf-8")
    who = world.city_regulator.username
    preview = run("import", str(notice), "--as", who)
    assert preview.exit_code == 0, preview.output
    assert "2027-02-20  rest -> work" in preview.output
    assert "previewed (nothing stored" in preview.output
    assert db_session.scalar(sa.select(sa.func.count()).select_from(CalendarYear)) == 0
    db_session.commit()
    confirmed = run("import", str(notice), "--as", who, "--confirm")
    assert confirmed.exit_code == 0, confirmed.output
    assert "2027 confirmed" in confirmed.output
    listed = run("list", "--year", "2027", "--city", world.city.code)
    assert "2027: confirmed" in listed.output
    assert "2027-02-06 .. 2027-02-14  春节 / Spring Festival" in listed.output
    assert world.city.code in run("list", "--year", "2027").output
    kinds = list(db_session.scalars(sa.select(Event.kind).where(Event.kind == "calendar.year_confirmed")))
    db_session.commit()
    assert kinds == ["calendar.year_confirmed"]


def test_FZ_04_a_malformed_file_or_a_district_regulator_is_refused_and_nothing_stored(
    cli_env, factory, db_session, tmp_path
):
    world = factory.world()
    overlapping = tmp_path / "2027.json"
    overlapping.write_text(
        json.dumps(
            {
                "year": 2027,
                "periods": [
                    {"name_zh": "春节", "first": "2027-02-06", "last": "2027-02-12"},
                    {"name_zh": "元宵", "first": "2027-02-12", "last": "2027-02-13"},
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    refused = run("import", str(overlapping), "--as", world.city_regulator.username, "--confirm")
    assert refused.exit_code != 0
    assert "periods.1: 与 periods.0 重叠 / overlaps periods.0" in refused.output
    good = tmp_path / "good.yaml"
    good.write_text(NOTICE_YAML, encoding="utf-8")
    district = run("import", str(good), "--as", world.regulator.username, "--confirm")
    assert district.exit_code != 0
    assert "not an active city regulator" in district.output
    assert db_session.scalar(sa.select(sa.func.count()).select_from(CalendarYear)) == 0
    db_session.commit()
