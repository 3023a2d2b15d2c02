"""``callagent recordings purge``: delete recordings older than the retention (for cron)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from callagent.cli_support import settings_or_exit
from callagent.recordings.files import purge

app = typer.Typer(help="Call recordings in CALLAGENT_RECORDINGS_DIR.", no_args_is_help=True)


@app.command("purge")
def purge_command(
    days: Annotated[
        int | None,
        typer.Option(
            min=1, help="older than this many days (default CALLAGENT_RECORDINGS_RETENTION_DAYS)"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only count what would be deleted")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Delete recordings last written more than the retention's days ago; say how many
    files and bytes. With no retention set (0) and no --days, nothing is deleted."""
    settings = settings_or_exit()
    keep = days if days is not None else settings.recordings_retention_days
    if keep <= 0:
        typer.echo(
            "callagent: no retention: set CALLAGENT_RECORDINGS_RETENTION_DAYS or pass --days",
            err=True,
        )
        raise typer.Exit(2)
    cutoff = datetime.now(UTC) - timedelta(days=keep)
    done = purge(settings.recordings_dir, older_than=cutoff, dry_run=dry_run)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "folder": settings.recordings_dir,
                    "older_than": cutoff.isoformat(),
                    "files": done.files,
                    "bytes": done.bytes,
                    "dry_run": done.dry_run,
                }
            )
        )
        return
    verb = "would delete" if dry_run else "deleted"
    typer.echo(
        f"{verb} {done.files} recording(s), {done.bytes} bytes, older than {keep} day(s) "
        f"in {settings.recordings_dir}"
    )
