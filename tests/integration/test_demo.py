"""`permit-service seed-demo`: every role of rules.md §0, regulators and clients; idempotent; the printed logins work;
and the README that documents it (demo accounts, configuration table) stays true."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from permit_service.audit import service as audit
from permit_service.auth.models import IntegrationClient
from permit_service.auth.principal import ENTERPRISE_ROLES
from permit_service.demo import DEMO_PASSWORD, ENTERPRISES, accounts, seed
from permit_service.directory.models import Certificate, ChemicalPark, Enterprise, Person, PlantArea, Region
from permit_service.models import Base

ROOT = Path(__file__).resolve().parents[2]
PLAN_PARKS = {"岚山化工产业园", "日照海右化工产业园", "日照生物化工产业园"}


@pytest.fixture
def run_seed(app: Flask) -> Callable[[], list[str]]:
    """Run the seed as the CLI does: inside an app context, returning the printed lines."""

    def run() -> list[str]:
        with app.app_context():
            return seed()

    return run


def _row_counts(session: Session) -> dict[str, int]:
    counts = {
        t.name: session.scalar(sa.select(sa.func.count()).select_from(t)) for t in Base.metadata.sorted_tables
    }
    session.rollback()  # end the read: on SQLite it holds the write lock the next seed needs
    return counts


def _login(client: FlaskClient, username: str, password: str = DEMO_PASSWORD) -> str:
    answer = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["access_token"]


def test_seed_creates_the_city_parks_every_role_regulators_and_clients(
    run_seed: Callable[[], list[str]], db_session: Session
) -> None:
    run_seed()

    regions = {r.code: r for r in db_session.scalars(sa.select(Region))}
    city = regions["371100"]
    assert (city.name, city.level, city.parent_id) == ("日照市", "city", None)
    for code in ("371102", "371103", "371121", "371122"):
        assert (regions[code].level, regions[code].parent_id) == ("district", city.id)
    zones = [r for r in regions.values() if r.level == "zone"]
    assert {z.name for z in zones} >= {"日照经济技术开发区", "山海天旅游度假区", "日照高新技术产业开发区"}
    assert all(z.parent_id == city.id for z in zones)
    assert {p.name for p in db_session.scalars(sa.select(ChemicalPark))} == PLAN_PARKS

    enterprises = db_session.scalars(sa.select(Enterprise).order_by(Enterprise.credit_code)).all()
    assert len(enterprises) == 2
    assert len({e.region_id for e in enterprises}) == 2 and len({e.park_id for e in enterprises}) == 2
    assert all("演示" in e.name and len(e.credit_code) == 18 for e in enterprises)
    first = db_session.scalar(
        sa.select(Enterprise)
        .join(Person, Person.enterprise_id == Enterprise.id)
        .where(Person.username == "lh.admin")
    )
    staff = db_session.scalars(sa.select(Person).where(Person.enterprise_id == first.id)).all()
    assert {role for p in staff for role in p.roles} == ENTERPRISE_ROLES  # rules.md §0, all in one enterprise
    assert all(p.positioning_card_id for p in staff)  # HC-03
    for enterprise in enterprises:
        people = db_session.scalars(sa.select(Person.id).where(Person.enterprise_id == enterprise.id)).all()
        assert len(people) >= 3
        areas = db_session.scalars(sa.select(PlantArea).where(PlantArea.enterprise_id == enterprise.id)).all()
        hc01 = [a for a in areas if a.running_unit and (a.flammable or a.explosive or a.toxic)]
        assert hc01 and all(a.max_headcount == 3 for a in hc01)  # HC-01
        assert db_session.scalar(
            sa.select(IntegrationClient).where(IntegrationClient.enterprise_id == enterprise.id)
        )

    certificates = db_session.scalars(
        sa.select(Certificate).where(Certificate.person_id.in_([p.id for p in staff]))
    )
    certified = {c.kind: c for c in certificates}
    assert set(certified) == {"welder", "electrician", "crane_operator", "crane_signaller"}  # G-13
    assert all(c.number and c.expires_on for c in certified.values())

    regulators = db_session.scalars(sa.select(Person).where(Person.region_id.is_not(None))).all()
    regulated = {p.region_id for p in regulators if "regulator" in p.roles}
    assert regulated == {r.id for r in regions.values() if r.level in ("district", "zone")}
    assert [p.region_id for p in regulators if "city_regulator" in p.roles] == [city.id]

    assert all(report.ok for report in audit.verify(db_session))  # AU-02: the seed's events chain correctly


def test_seeding_twice_creates_nothing(run_seed: Callable[[], list[str]], db_session: Session) -> None:
    first = run_seed()
    before = _row_counts(db_session)

    second = run_seed()

    assert _row_counts(db_session) == before
    assert "created" in first[0] and "nothing was created" in second[0]
    assert first[1:] == second[1:]  # the same login table


def test_printed_accounts_exist_and_their_login_works(
    run_seed: Callable[[], list[str]], client: FlaskClient, db_session: Session
) -> None:
    printed = "\n".join(run_seed())
    assert DEMO_PASSWORD in printed and "production" in printed

    roles_of = {p.username: tuple(p.roles) for p in db_session.scalars(sa.select(Person))}
    db_session.rollback()  # end the read: on SQLite it holds the lock the login needs
    for username, roles, _tenant in accounts():
        assert username in printed
        assert roles_of[username] == roles
    token = _login(client, "lh.applicant")  # the README walkthrough's first step
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.get_json()["roles"] == ["applicant"]

    answer = client.post(
        "/api/v1/auth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": "lh-plant-portal",
            "client_secret": DEMO_PASSWORD,
        },
    )
    assert answer.status_code == 200, answer.get_json()


def test_regulators_sit_where_they_supervise(run_seed: Callable[[], list[str]], client: FlaskClient) -> None:
    run_seed()

    def enterprises_seen(username: str) -> set[str]:
        answer = client.get(
            "/api/v1/enterprises", headers={"Authorization": f"Bearer {_login(client, username)}"}
        )
        return {e["credit_code"] for e in answer.get_json()["items"]}

    lanshan, juxian = "91371103DM20260145", "91371122DM2026022G"
    assert enterprises_seen("reg.lanshan") == {lanshan}
    assert enterprises_seen("reg.juxian") == {juxian}
    # Zones hang from the city, not from a district: the zone's regulator sees neither district's enterprise.
    assert enterprises_seen("reg.etdz") == set()
    assert enterprises_seen("reg.city") == {lanshan, juxian}


def test_DC_04_the_demo_platforms_follow_their_regions_feed_as_printed(
    run_seed: Callable[[], list[str]], client: FlaskClient
) -> None:
    printed = "\n".join(run_seed())
    assert "/api/v1/regulator/events?after=0" in printed

    def regions_followed(client_id: str) -> set[str]:
        assert client_id in printed
        token = client.post(
            "/api/v1/auth/token",
            json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": DEMO_PASSWORD},
        )
        assert token.status_code == 200, token.get_json()
        headers = {"Authorization": f"Bearer {token.get_json()['access_token']}"}
        feed = client.get("/api/v1/regulator/events?after=0&limit=200", headers=headers)
        assert feed.status_code == 200, feed.get_json()
        return {e["region_code"] for e in feed.get_json()["items"]}

    # The seed's own events (the enterprises registered in their districts) are the feed's first items.
    assert regions_followed("rz-city-platform") >= {"371103", "371122"}
    assert regions_followed("lanshan-platform") == {"371103"}


def test_seeding_is_refused_in_production(
    app: Flask, run_seed: Callable[[], list[str]], db_session: Session
) -> None:
    app.config["PERMIT_CONFIG"] = dataclasses.replace(app.config["PERMIT_CONFIG"], env="production")

    with pytest.raises(click.ClickException, match="production"):
        run_seed()

    assert db_session.scalar(sa.select(sa.func.count()).select_from(Person)) == 0


def test_readme_configuration_table_is_the_config_docstring() -> None:
    doc = ast.get_docstring(ast.parse((ROOT / "permit_service" / "config.py").read_text(encoding="utf-8")))
    rows = [line for line in (doc or "").splitlines() if line.startswith("|")]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert rows
    assert [row for row in rows if row not in readme] == []  # copy the changed rows into README.md


def test_readme_walkthrough_names_what_the_demo_holds() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    demo_names = {username for username, _roles, _tenant in accounts()}
    demo_names |= {area.code for spec in ENTERPRISES for area in spec.areas}

    assert DEMO_PASSWORD in readme
    for name in ("lh.applicant", "lh.welder", "lh.guardian", "LH-U100", "jb.applicant"):
        assert name in demo_names and name in readme
