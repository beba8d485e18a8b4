"""Settings and database schema: `config`, `init`, `db upgrade`, `db current`."""

from __future__ import annotations

from typing import Annotated

import typer

from newsingest.cli.common import Commands, infrastructure, out, print_rows, settings

commands = Commands()
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@commands.command("config")
def config_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the effective settings (secrets masked)."""
    values = settings().masked()
    if as_json:
        import json

        out.print_json(json.dumps(values, default=str))
        return
    rows = [
        [f"NEWSINGEST_{name.upper()}", "" if value is None else str(value)]
        for name, value in values.items()
    ]
    print_rows("effective settings", ["variable", "value"], rows)


@commands.command("init")
def init_cmd() -> None:
    """Create or upgrade the database schema (safe to run again)."""
    from schemas.db import current_revision, upgrade

    url = settings().database_url
    with infrastructure("database"):
        before = current_revision(url)
        upgrade(url)
        after = current_revision(url)
    from schemas.settings import mask_url

    if before == after:
        out.print(f"database {mask_url(url)} already at revision {after}")
    else:
        out.print(f"database {mask_url(url)} upgraded {before or 'empty'} -> {after}")


@db_app.command("upgrade")
def db_upgrade_cmd() -> None:
    """Same as `newsingest init`."""
    init_cmd()


@db_app.command("current")
def db_current_cmd() -> None:
    """Print the schema revision of the database and the latest one."""
    from schemas.db import current_revision, head_revision

    with infrastructure("database"):
        revision = current_revision(settings().database_url)
    out.print(f"current: {revision or 'none'}  head: {head_revision()}")


def register(app: typer.Typer) -> None:
    commands.register(app)
    app.add_typer(db_app, name="db")
