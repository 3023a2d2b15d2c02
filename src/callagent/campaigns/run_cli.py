"""``callagent campaigns run``: dial what is due, then exit (made for cron).

``callagent campaign run``, the old spelling, still works (a hidden group of this ``app``).

Exit codes:
  0  done: nothing (more) is due, the window closed, --until passed, --max-calls
     reached, or stopped by SIGINT/SIGTERM after the calls in flight ended
  1  an unexpected error (the log says what)
  2  bad arguments or configuration (an unknown campaign, an unreadable --until)
  3  the database schema is behind: run `callagent migrate`
  4  no AMI node configured, the AMI could not be reached / refused the login, or the
     connection was lost for a minute mid-run (nothing is dialled without it)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from datetime import UTC, datetime
from typing import Annotated, TextIO

import typer
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from callagent.campaigns.dialer import Dialer, RunSummary
from callagent.campaigns.lease import DIALLABLE
from callagent.campaigns.scheduler import ami_client, dialer_config
from callagent.config import Settings, get_settings
from callagent.db.campaign_models import Campaign, RegistryEntry, utcnow
from callagent.logs import setup_logging

log = logging.getLogger(__name__)

app = typer.Typer(help="Dial notification campaigns.", no_args_is_help=True)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_SCHEMA, EXIT_AMI = 0, 1, 2, 3, 4


def parse_until(text: str, now: datetime) -> datetime:
    """``HH:MM`` (today, this machine's local time) or an ISO date-time -> aware UTC."""
    text = text.strip()
    local_now = now.astimezone()
    try:
        if len(text) <= 5 and ":" in text:
            hours, minutes = (int(part) for part in text.split(":"))
            at = local_now.replace(hour=hours, minute=minutes, second=0, microsecond=0)
        else:
            at = datetime.fromisoformat(text)
            if at.tzinfo is None:
                at = at.replace(tzinfo=local_now.tzinfo)
    except ValueError:
        raise ValueError(
            f"--until {text!r}: give a time of day HH:MM (today, local time) or an ISO "
            "date-time such as 2026-11-23T20:00+03:00"
        ) from None
    return at.astimezone(UTC)


class Progress:
    """A progress bar on a terminal, plain lines otherwise (cron mails them)."""

    def __init__(self, total: int, out: TextIO, tty: bool) -> None:
        self.total = total
        self.out = out
        self.tty = tty
        self._last = 0.0

    def update(self, summary: RunSummary) -> None:
        """Called after each settled attempt."""
        now = time.monotonic()
        if not self.tty and now - self._last < 10 and summary.settled % 50:
            return
        self._last = now
        done = summary.settled
        results = " ".join(f"{k}={v}" for k, v in sorted(summary.results.items()))
        if self.tty:
            width = 30
            total = max(self.total, summary.placed, 1)
            filled = int(width * min(done, total) / total)
            bar = "#" * filled + "." * (width - filled)
            self.out.write(f"\r[{bar}] {done}/{total} {results}   ")
        else:
            self.out.write(f"{datetime.now(UTC):%H:%M:%S} settled {done}: {results}\n")
        self.out.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.tty:
            self.out.write("\n")
            self.out.flush()


def _due_count(sessions: sessionmaker[Session], names: list[str] | None, now: datetime) -> int:
    with sessions() as session:
        query = (
            select(func.count())
            .select_from(RegistryEntry)
            .join(Campaign, Campaign.id == RegistryEntry.campaign_id)
            .where(
                Campaign.status == "running",
                RegistryEntry.status.in_(DIALLABLE),
                RegistryEntry.attempts < Campaign.max_attempts,
                or_(RegistryEntry.next_attempt_at.is_(None), RegistryEntry.next_attempt_at <= now),
            )
        )
        if names:
            query = query.where(Campaign.name.in_(names))
        return int(session.scalar(query) or 0)


def _check_names(sessions: sessionmaker[Session], names: list[str]) -> list[str]:
    """Messages for campaigns that are unknown (errors) or not running (notes)."""
    with sessions() as session:
        rows = {
            str(name): str(status)
            for name, status in session.execute(select(Campaign.name, Campaign.status))
        }
    notes: list[str] = []
    for name in names:
        if name not in rows:
            known = ", ".join(sorted(rows)) or "none yet"
            raise ValueError(f"no campaign named {name!r} (known: {known})")
        if rows[name] != "running":
            notes.append(f"campaign {name!r} is {rows[name]}: nothing is dialled until it runs")
    return notes


async def _dial(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    names: list[str] | None,
    until: datetime | None,
    max_calls: int | None,
    progress: Progress,
) -> tuple[int, RunSummary | None]:
    dialer = Dialer(
        sessions,
        campaigns=names,
        config=dialer_config(settings),
        clock=utcnow,
        until=until,
        max_calls=max_calls,
        on_progress=progress.update,
    )
    client = ami_client(settings.ami_nodes[0], settings, dialer)
    connection = asyncio.create_task(client.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, dialer.stop)
    try:
        deadline = loop.time() + 2 * settings.ami_connect_timeout + 1
        while not client.connected:
            if loop.time() > deadline or connection.done() or client.last_error:
                node = settings.ami_nodes[0]
                typer.echo(
                    f"callagent: cannot reach the AMI of node {node.name} at "
                    f"{node.host}:{node.port}: {client.last_error or 'no answer'}",
                    err=True,
                )
                return EXIT_AMI, None
            await asyncio.sleep(0.05)
        summary = await dialer.run()
        return EXIT_OK, summary
    finally:
        await client.stop()
        connection.cancel()
        await asyncio.gather(connection, return_exceptions=True)


@app.command("run")
def run(
    campaign: Annotated[
        list[str] | None,
        typer.Option("--campaign", help="campaign name to dial (repeat); default: all running"),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="stop placing calls at HH:MM (local time today) or an ISO time"),
    ] = None,
    max_calls: Annotated[
        int | None, typer.Option("--max-calls", min=1, help="place at most this many calls")
    ] = None,
) -> None:
    """Dial the due entries of running campaigns, then exit. Safe to overlap (leases).

    Exit codes: 0 done (nothing due, window closed, --until or --max-calls reached),
    1 error, 2 bad arguments, 3 schema behind (callagent migrate), 4 AMI unreachable.
    """
    from callagent.db.session import SchemaError, check_schema, make_engine, make_sessionmaker

    try:
        settings = get_settings()
    except Exception as exc:
        typer.echo(f"callagent: configuration error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    setup_logging(settings.log_level)
    now = utcnow()
    try:
        until_at = parse_until(until, now) if until else None
    except ValueError as exc:
        typer.echo(f"callagent: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine)
    except SchemaError as exc:
        typer.echo(f"callagent: {exc}", err=True)
        raise typer.Exit(EXIT_SCHEMA) from exc
    sessions = make_sessionmaker(engine)
    names = list(campaign) if campaign else None
    try:
        for note in _check_names(sessions, names or []):
            typer.echo(note)
    except ValueError as exc:
        typer.echo(f"callagent: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if not settings.ami_nodes:
        typer.echo(
            "callagent: no AMI node configured: set CALLAGENT_AMI_HOST (and _USERNAME, "
            "_SECRET) or CALLAGENT_AMI_NODES",
            err=True,
        )
        raise typer.Exit(EXIT_AMI)
    if until_at is not None and until_at <= now:
        typer.echo(f"--until {until} has passed: nothing dialled")
        raise typer.Exit(EXIT_OK)
    due = _due_count(sessions, names, now)
    progress = Progress(due, sys.stdout, sys.stdout.isatty())
    typer.echo(f"{due} entr{'y' if due == 1 else 'ies'} due now (before calling windows)")
    try:
        code, summary = asyncio.run(
            _dial(
                settings,
                sessions,
                names=names,
                until=until_at,
                max_calls=max_calls,
                progress=progress,
            )
        )
    except Exception:
        log.exception("campaign run failed")
        raise typer.Exit(EXIT_ERROR) from None
    finally:
        progress.close()
        engine.dispose()
    if summary is not None:
        results = ", ".join(f"{k} {v}" for k, v in sorted(summary.results.items())) or "none"
        why = {
            "nothing_due": "nothing more is due",
            "until": "--until passed",
            "max_calls": "--max-calls reached",
            "stopped": "stopped by a signal",
            "paused": "the campaign was paused",
            "ami_lost": "the AMI connection was lost (calls in flight ended as timeout)",
        }.get(summary.stopped, summary.stopped)
        typer.echo(
            f"placed {summary.placed - summary.refused} call(s), {summary.refused} refused by "
            f"the PBX; results: {results}; {why}"
        )
    if summary is not None and summary.stopped == "ami_lost":
        code = EXIT_AMI
    raise typer.Exit(code)
