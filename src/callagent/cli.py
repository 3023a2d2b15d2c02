"""The ``callagent`` command: serve, migrate, replay."""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from callagent.config import Settings, get_settings
from callagent.logs import setup_logging

app = typer.Typer(
    help="callagent: call records, routing and campaigns for an Asterisk contact centre.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic's message names the variable and the problem
        typer.echo(f"callagent: configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def serve() -> None:
    """Run the service: HTTP API, AMI listener (and, later, FastAGI) in one process."""
    import uvicorn

    from callagent.api.app import create_app
    from callagent.db.session import SchemaError, check_schema, make_engine

    settings = _settings()
    setup_logging(settings.log_level)
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine)
    except SchemaError as exc:
        typer.echo(f"callagent: {exc}", err=True)
        raise typer.Exit(3) from exc
    finally:
        engine.dispose()
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
    )


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Create or upgrade the database schema (CALLAGENT_DATABASE_URL)."""
    from callagent.db.session import upgrade

    settings = _settings()
    setup_logging(settings.log_level)
    upgrade(settings.database_url, revision)
    typer.echo(f"database schema is at {revision}")


@app.command()
def replay(
    trace: Annotated[Path, typer.Argument(help="a raw AMI byte stream (.ami)")],
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
    database: Annotated[
        str | None, typer.Option(help="database URL to write to (default: a temporary one)")
    ] = None,
    node: Annotated[str, typer.Option(help="PBX node name to file the calls under")] = "pbx1",
) -> None:
    """Read a recorded AMI trace the way the live listener would; print the call records."""
    from callagent.api.schemas import CallDetail
    from callagent.db.queries import all_calls_detailed
    from callagent.db.session import make_engine, make_sessionmaker, upgrade
    from callagent.db.store import CallStore
    from callagent.replay import read_trace, replay_bytes

    data = read_trace(trace)
    trunks = tuple(_settings().trunk_endpoints)
    with tempfile.TemporaryDirectory(prefix="callagent-replay-") as tmp:
        url = database or f"sqlite:///{Path(tmp) / 'replay.db'}"
        logging.getLogger("alembic").setLevel(logging.WARNING)
        upgrade(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        _, malformed = asyncio.run(
            replay_bytes(data, CallStore(sessions), node=node, trunk_endpoints=trunks)
        )
        with sessions() as session:
            calls = [CallDetail.model_validate(c) for c in all_calls_detailed(session)]
        engine.dispose()
    if as_json:
        typer.echo(
            json.dumps([c.model_dump(mode="json") for c in calls], ensure_ascii=False, indent=2)
        )
        return
    if malformed:
        typer.echo(f"{malformed} malformed frame(s) skipped", err=True)
    if not calls:
        typer.echo("no calls in this trace")
    for call in calls:
        operator = call.operator_endpoint or "-"
        talk = f"{call.talk_seconds:.1f}" if call.talk_seconds is not None else "-"
        wait = f"{call.wait_seconds:.1f}" if call.wait_seconds is not None else "-"
        typer.echo(
            f"{call.started_at:%Y-%m-%d %H:%M:%S} {call.direction:<8} "
            f"{call.applicant_number or '-':<14}"
            f" {call.disposition:<10} operator={operator} wait={wait}s talk={talk}s "
            f"hold={call.hold_seconds:.1f}s hangup_by={call.hangup_by or '-'} "
            f"cause={call.hangup_cause} attempts="
            + ",".join(f"{a.endpoint}:{a.outcome}" for a in call.attempts)
        )


def main() -> None:
    """Entry point of the console script."""
    app()
