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
    """The statutory holiday calendar and the freezes it proposes (FZ-04)."""


def _refuse_uncovered(year: int) -> None:
    from datetime import date

    from permit_service.calendar import coverage_gap

    if gap := coverage_gap(date(year, 1, 1), date(year, 12, 31)):
        raise click.ClickException(f"{gap.message_en}\n{gap.message_zh}")


@holidays.command("list")
@click.option("--year", type=int, required=True)
def holidays_list(year: int) -> None:
    """Print the statutory holiday periods of a year (Asia/Shanghai dates)."""
    from datetime import date

    from permit_service.calendar import holidays_between

    _refuse_uncovered(year)
    for period in holidays_between(date(year, 1, 1), date(year, 12, 31)):
        click.echo(f"{period.first} .. {period.last}  {period.name_zh} / {period.name_en}")


@holidays.command("propose")
@click.option("--year", type=int, required=True)
def holidays_propose(year: int) -> None:
    """Propose city-wide freezes (mode upgrade, every special type) for the year's holidays; idempotent."""
    from permit_service import clock
    from permit_service.scheduling.jobs import run_holiday_proposals

    _refuse_uncovered(year)
    app = _app()
    with app.app_context():
        report = run_holiday_proposals(app.extensions["db_sessionmaker"], clock.now(), years=(year,))
    if report.skipped:
        raise click.ClickException("another scheduler is proposing holiday freezes right now; try again")
    click.echo(f"{report.done} freeze(s) proposed for {year}; a regulator declares or edits them")


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


if __name__ == "__main__":
    main()
