"""The `permit-service` command: serve, migrate, seed demo data, run the scheduler, export OpenAPI, verify audit."""

from __future__ import annotations

import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import TextIO

import click


def _app():  # type: ignore[no-untyped-def]
    from permit_service import create_app

    return create_app()


@click.group()
def main() -> None:
    """permit-service 作业票证审批服务."""


@main.group()
def db() -> None:
    """Database schema (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate DATABASE_URL to the latest schema (a release step, never run at app start)."""
    from permit_service.config import INSTANCE_DIR, Config
    from permit_service.migrate import upgrade

    cfg = Config.from_env()
    if cfg.is_sqlite:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    upgrade(cfg.database_url, revision)
    click.echo(f"database at revision {revision}")


@main.command("seed-demo")
def seed_demo() -> None:
    """Create the Rizhao demo data (idempotent) and print how to log in."""
    from permit_service.demo import seed

    app = _app()
    with app.app_context():
        for line in seed():
            click.echo(line)


@main.command("openapi")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def openapi(output: Path | None) -> None:
    """Write the OpenAPI document generated from the code (YAML) to --output or stdout."""
    from permit_service.openapi_export import generate_yaml

    text = generate_yaml()
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@main.command("scheduler")
@click.option("--once", is_flag=True, help="Run every job once and exit (cron, CronJob, smoke test).")
def scheduler(once: bool) -> None:
    """Run the scheduler process (expiry, freeze starts, monitoring, outbox): beside gunicorn, never inside it."""
    from permit_service.scheduling.runner import run_all_once, serve

    app = _app()
    if not once:
        serve(app)
        return
    for report in run_all_once(app):
        click.echo(
            f"{report.job}: done={report.done} skipped={report.skipped} failed={report.failed} {report.note}".rstrip()
        )


def _bridge_file(path: Path | None, env: str) -> Path:
    import os

    chosen = path or (Path(os.environ[env]) if os.environ.get(env) else None)
    if chosen is None:
        raise click.UsageError(f"name the configuration file with --config or {env}")
    return chosen


@main.command("mqtt-bridge")
@click.option("--config", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="YAML/JSON file (default: $MQTT_BRIDGE_CONFIG); see README, MQTT.")  # fmt: skip
def mqtt_bridge(path: Path | None) -> None:
    """Run an MQTT bridge: plant topics in like HTTP pushes (DC-01..05), permit events out; stops on SIGTERM."""
    from permit_service.bridges import mqtt
    from permit_service.bridges.settings import mqtt_settings, read_file

    settings = mqtt_settings(read_file(_bridge_file(path, "MQTT_BRIDGE_CONFIG")))
    mqtt.serve(_app(), settings)


@main.command("opcua-reader")
@click.option("--config", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="YAML/JSON file (default: $OPCUA_READER_CONFIG); see README, OPC UA.")  # fmt: skip
def opcua_reader(path: Path | None) -> None:
    """Run an OPC UA reader: DCS detector tags in as gas readings (DC-01), quiet tags alarmed (DC-03)."""
    from permit_service.bridges import opcua
    from permit_service.bridges.settings import opcua_settings, read_file

    settings = opcua_settings(read_file(_bridge_file(path, "OPCUA_READER_CONFIG")))
    opcua.serve(_app(), settings)


@main.group()
def holidays() -> None:
    """The holiday calendar (confirmed / official / provisional years) and the freezes it proposes (FZ-04)."""


_SOURCE_NAMES = {
    "confirmed": "confirmed 已确认 (a regulator entered the State Council's notice)",
    "official": "official 官方 (chinese-calendar)",
    "provisional": "provisional 推算 (computed by holidays; no make-up working days until confirmed)",
}


@holidays.command("list")
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
@click.option("--city", "city_code", help="The city's code: its confirmed year instead of the packages'.")
def holidays_list(year: int, city_code: str | None) -> None:
    """Print a year's source, holiday periods and make-up working days (Asia/Shanghai dates)."""
    from datetime import date

    import sqlalchemy as sa

    from permit_service.calendar import ChinaHolidayCalendar, get_calendar
    from permit_service.directory.models import Region
    from permit_service.freezes.models import CalendarYear

    app = _app()
    with app.app_context(), app.extensions["db_sessionmaker"]() as session:
        calendar = ChinaHolidayCalendar()
        if city_code:
            city = session.scalar(sa.select(Region).where(Region.code == city_code, Region.level == "city"))
            if city is None:
                raise click.ClickException(f"no city with code {city_code}")
            calendar = get_calendar(session, city.id)
        schedule = calendar.year(year)
        click.echo(f"{year}: {_SOURCE_NAMES[schedule.source]}")
        for period in calendar.holidays_between(date(year, 1, 1), date(year, 12, 31)):
            mark = "  (provisional 推算)" if period.provisional else ""
            click.echo(f"{period.first} .. {period.last}  {period.name_zh} / {period.name_en}{mark}")
        click.echo(f"make-up working days 调休上班: {', '.join(map(str, sorted(schedule.workdays))) or '-'}")
        if not city_code:
            confirmed = session.execute(
                sa.select(Region.code, Region.name)
                .join(CalendarYear, CalendarYear.region_id == Region.id)
                .where(CalendarYear.year == year)
                .order_by(Region.code)
            ).all()
            for code, name in confirmed:
                click.echo(f"confirmed for {name} ({code}): see --city {code}")


@holidays.command("propose")
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
def holidays_propose(year: int) -> None:
    """Propose city-wide freezes (mode upgrade, every special type) for the year's holidays; idempotent."""
    from permit_service import clock
    from permit_service.scheduling.jobs import run_holiday_proposals

    app = _app()
    with app.app_context():
        report = run_holiday_proposals(app.extensions["db_sessionmaker"], clock.now(), years=(year,))
    if report.skipped:
        raise click.ClickException("another scheduler is proposing holiday freezes right now; try again")
    click.echo(f"{report.done} freeze(s) proposed or moved for {year}; a regulator declares or edits them")


@holidays.command("import")
@click.argument("notice_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "username", required=True, help="The city regulator entering the notice (username).")
@click.option("--confirm", is_flag=True, help="Store the year; without it the changes are only shown.")
def holidays_import(notice_file: Path, username: str, confirm: bool) -> None:
    """Enter the State Council's notice of a year from a JSON or YAML file: preview, or --confirm (FZ-04).

    The file has `year`, `notice` (its reference), `periods` (name_zh, optional name_en, first, last) and
    `workdays` (the make-up working days).
    """
    import json

    import sqlalchemy as sa
    import yaml
    from marshmallow import ValidationError

    from permit_service import clock
    from permit_service.auth.tokens import principal_of_person
    from permit_service.directory.models import Person
    from permit_service.errors import Problem
    from permit_service.freezes import years
    from permit_service.freezes.schemas import CalendarYearIn

    # BaseLoader keeps every scalar a string (also JSON's): the schema parses dates and numbers as the API does.
    raw = yaml.load(notice_file.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # noqa: S506 - builds no objects
    if not isinstance(raw, dict) or not str(raw.get("year", "")).isdigit():
        raise click.ClickException("the file needs a mapping with a numeric `year`")
    year = int(raw.pop("year"))
    try:
        data = CalendarYearIn().load(raw)
    except ValidationError as exc:
        raise click.ClickException(json.dumps(exc.messages, ensure_ascii=False, indent=1)) from exc
    app = _app()
    with app.app_context(), app.extensions["db_sessionmaker"]() as session, session.begin():
        person = session.scalar(sa.select(Person).where(Person.username == username, Person.active))
        if person is None or "city_regulator" not in person.roles:
            raise click.ClickException(f"{username} is not an active city regulator")
        principal = principal_of_person(person)
        try:
            if confirm:
                result, _created = years.confirm_year(
                    session, principal=principal, year=year, data=data, now=clock.now()
                )
            else:
                result = years.preview_year(session, principal=principal, year=year, data=data)
        except Problem as exc:
            raise click.ClickException(
                f"{exc.zh} / {exc.en}\n{_problems(exc.extra.get('errors', {}))}"
            ) from exc
    for change in result["changes"]:
        before = "rest" if change["rest_day_before"] else "work"
        after = "rest" if change["rest_day_after"] else "work"
        click.echo(f"{change['day']}  {before} -> {after}  {change['holiday_after'] or ''}".rstrip())
    verb = "confirmed" if confirm else "previewed (nothing stored; add --confirm)"
    click.echo(
        f"{year} {verb}: {len(result['changes'])} day(s) change against the {result['source_before']} year"
    )


def _problems(errors: dict[str, list[str]]) -> str:
    return "\n".join(f"{field}: {'; '.join(messages)}" for field, messages in errors.items())


@main.group()
def audit() -> None:
    """The hash-chained audit trail (AU-02)."""


def _aware(value: datetime | None) -> datetime | None:
    """A datetime from the command line: as given with an offset, else read in Asia/Shanghai."""
    from zoneinfo import ZoneInfo

    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo("Asia/Shanghai"))


@audit.command("verify")
@click.option(
    "--enterprise", "enterprise_id", type=click.UUID, default=None, help="Only this enterprise's chains."
)
@click.option(
    "--since",
    type=datetime.fromisoformat,
    default=None,
    help="Only chains with events at or after this ISO 8601 time (Asia/Shanghai unless it has an offset), "
    "each walked whole.",
)
@click.option(
    "--checkpoint",
    "kept",
    type=click.File(encoding="utf-8"),
    default=None,
    help="A checkpoint kept from GET /api/v1/regulator/checkpoints (JSON): the history must still lead to it.",
)
def audit_verify(enterprise_id: uuid.UUID | None, since: datetime | None, kept: TextIO | None) -> None:
    """Walk every hash chain and name the first broken link of each; exits 1 when any is broken (AU-02)."""
    import json
    from itertools import chain

    from permit_service.audit.checkpoints import KeptCheckpoint, check_against
    from permit_service.audit.verify import verify

    def progress(events: int, chains: int) -> None:
        click.echo(f"… {events} events in {chains} chains checked", err=True)

    app = _app()
    broken = chains = events = 0
    with app.app_context(), app.extensions["db_sessionmaker"]() as session:
        reports = verify(session, enterprise_id=enterprise_id, since=_aware(since), progress=progress)
        if kept is not None:
            reports = chain(reports, check_against(session, KeptCheckpoint.from_json(json.load(kept))))
        for report in reports:
            chains += 1
            events += report.events
            if not report.ok:
                broken += 1
                click.echo(
                    f"BROKEN {report.chain}: event {report.first_bad_event_id} {report.what}: {report.reason}"
                )
    if broken:
        raise click.ClickException(f"{broken} of {chains} chains broken / 审计链被篡改")
    click.echo(f"{chains} chains, {events} events intact / 审计链完整")


@audit.command("retention")
@click.option("--days", type=click.IntRange(min=365), default=365, show_default=True)
def audit_retention(days: int) -> None:
    """List the finished permits kept longer than --days (at least a year) for archiving; deletes nothing (AU-03)."""
    from permit_service import clock
    from permit_service.audit.retention import due_for_archiving
    from permit_service.auth import SYSTEM
    from permit_service.permits.models import Permit

    app = _app()
    with app.app_context(), app.extensions["db_sessionmaker"]() as session:
        stmt = due_for_archiving(session, SYSTEM, now=clock.now(), days=days)
        for permit in session.scalars(stmt.order_by(Permit.updated_at).execution_options(yield_per=500)):
            click.echo(
                f"{permit.number}\t{permit.enterprise_id}\t{permit.state}\t{permit.updated_at.isoformat()}"
            )


@main.group()
def documents() -> None:
    """The finished permits' documents, from which a read of one is answered (issue 14)."""


@documents.command("rebuild")
def documents_rebuild() -> None:
    """Render the document of every finished permit that has none or an outdated one (after an upgrade)."""
    from permit_service.permits.documents import rebuild

    app = _app()
    with app.app_context(), app.extensions["db_sessionmaker"]() as session:
        click.echo(f"{rebuild(session)} finished permits rendered / 已生成已结束作业票的文档")


if __name__ == "__main__":
    main()
