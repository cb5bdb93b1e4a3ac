"""The `permit-service` command: serve, migrate, seed demo data, run the scheduler, export OpenAPI, verify audit."""

from __future__ import annotations

import sys
from pathlib import Path

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


if __name__ == "__main__":
    main()
