"""The ``callagent`` command: the service, its database, users and tokens, campaigns, the
simulator and trace replay."""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from callagent.callbacks.cli import app as callbacks_app
from callagent.campaigns.cli import campaigns_app, registry_app
from callagent.campaigns.run_cli import app as campaign_run_app
from callagent.cli_support import engine_or_exit, sessions_or_exit, settings_or_exit
from callagent.complaints.cli import app as complaints_app
from callagent.config import Settings
from callagent.logs import setup_logging
from callagent.planning.cli import app as plan_app
from callagent.prompts.cli import app as prompts_app
from callagent.quality.cli import app as quality_app
from callagent.recordings.cli import app as recordings_app
from callagent.reports.cli import app as report_app

app = typer.Typer(
    help="callagent: call records, routing and campaigns for an Asterisk contact centre.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _settings() -> Settings:
    return settings_or_exit()


@app.command()
def serve() -> None:
    """Run the service in one process: HTTP API and operator pages, AMI listener, FastAGI.

    FastAGI serves the dialplan's `route`, the operators' feature codes (login, logout,
    pause, ready) and the notification calls' `notify`; the campaign dialer and webhook
    deliveries run in the same process (CALLAGENT_AGI_ENABLED, CALLAGENT_CAMPAIGN_SCHEDULER).
    """
    import uvicorn

    from callagent.api.app import create_app

    settings = _settings()
    setup_logging(settings.log_level)
    engine_or_exit(settings).dispose()  # the schema is current; the app opens its own
    from callagent.wrapup.forms import FormsError

    try:
        application = create_app(settings)
    except FormsError as exc:  # says which file and line, and what is wrong there
        typer.echo(f"callagent: {exc}", err=True)
        raise typer.Exit(3) from exc
    uvicorn.run(
        application,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        # httptools (C) rather than h11 (pure Python): under a burst of thousands of
        # connections parsing them held the web loop, and /healthz waited behind it
        http="httptools",
        # X-Forwarded-For names the client only when a trusted proxy sent it (uvicorn's
        # default trusts 127.0.0.1: anyone on the host could pick their address)
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies),
        # open operator pages hold live-event streams: do not wait for them on Ctrl+C
        timeout_graceful_shutdown=5,
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


@app.command()
def sim(
    ami_port: Annotated[int, typer.Option(help="AMI port to listen on (127.0.0.1)")] = 5038,
    agi_host: Annotated[str, typer.Option(help="callagent's FastAGI host")] = "127.0.0.1",
    agi_port: Annotated[int, typer.Option(help="callagent's FastAGI port")] = 4573,
    interval: Annotated[float, typer.Option(help="seconds between calls, on average")] = 8.0,
    operators: Annotated[int, typer.Option(help="demo phones op1001... to register")] = 3,
    speed: Annotated[float, typer.Option(min=0.01, help="play calls this many times faster")] = 1.0,
    seed: Annotated[int | None, typer.Option(help="random seed: the same seed, same day")] = None,
) -> None:
    """Run the PBX simulator alone: a callagent with CALLAGENT_AMI_HOST=127.0.0.1 follows it.

    It speaks AMI (login callagent / callagent-secret) and asks callagent's FastAGI
    `route` for every call, replaying the recorded Asterisk traces with the mix of
    calls and the people's times of `make run`'s demo.
    """
    from callagent.sim.demo import Demo

    setup_logging("INFO")

    async def main() -> None:
        demo = Demo(ami_port=ami_port, agi_host=agi_host, seed=seed)
        await demo.start_ami()
        typer.echo(
            f"simulated Asterisk: AMI on 127.0.0.1:{demo.ami.port} (user {demo.ami.username}, "
            f"secret {demo.ami.secret}); waiting for callagent to log in"
        )
        endpoints = [f"PJSIP/op{1001 + n}" for n in range(operators)]
        await demo.start_calls(
            agi_port=agi_port,
            endpoints=endpoints,
            interval=interval,
            speed=speed,
            login_timeout=3600,
        )
        try:
            if demo.task is not None:
                await demo.task
        finally:
            await demo.stop()

    asyncio.run(main())


users_app = typer.Typer(help="Operators, supervisors and admins.", no_args_is_help=True)
tokens_app = typer.Typer(help="Integrators' API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(users_app, name="operators", help="The same as `users`: operators and their phones.")
app.add_typer(tokens_app, name="tokens")
app.add_typer(campaigns_app, name="campaigns")
app.add_typer(registry_app, name="registry")
# The old spelling of `campaigns run`, one letter apart: kept for crontabs, not listed.
app.add_typer(campaign_run_app, name="campaign", hidden=True)
app.add_typer(prompts_app, name="prompts")
app.add_typer(recordings_app, name="recordings")
app.add_typer(complaints_app, name="complaints")
app.add_typer(callbacks_app, name="callbacks")
app.add_typer(quality_app, name="quality")
app.add_typer(report_app, name="report")
app.add_typer(plan_app, name="plan")


def _sessions() -> sessionmaker[Session]:
    return sessions_or_exit(_settings())


@users_app.command("add")
def users_add(
    login: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[
        str, typer.Option(help="operator, supervisor, evaluator (QA) or admin")
    ] = "operator",
    name: Annotated[str, typer.Option(help="full name")] = "",
    endpoint: Annotated[
        list[str] | None, typer.Option(help="phone/headset endpoint, e.g. PJSIP/op1001; repeat")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Add a user. Without --password-stdin the password is asked for (not echoed)."""
    from sqlalchemy.exc import IntegrityError

    from callagent.auth.scopes import Role
    from callagent.auth.service import create_user

    try:
        parsed_role = Role(role)
    except ValueError:
        typer.echo(
            f"callagent: unknown role {role!r}: operator, supervisor, evaluator or admin",
            err=True,
        )
        raise typer.Exit(2) from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        typer.echo("callagent: the password needs at least 8 characters", err=True)
        raise typer.Exit(2)
    with _sessions()() as session:
        try:
            user = create_user(
                session,
                login=login,
                role=parsed_role,
                password=password,
                full_name=name,
                endpoints=list(endpoint or []),
            )
            session.commit()
        except IntegrityError:
            typer.echo(f"callagent: the login {login!r} is taken", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"user {user.login} ({user.role}) added with id {user.id}")


@users_app.command("list")
def users_list() -> None:
    """List users."""
    from sqlalchemy import select

    from callagent.db.models import User

    with _sessions()() as session:
        for user in session.scalars(select(User).order_by(User.login)):
            state = "active" if user.active else "inactive"
            phones = ",".join(user.endpoints) or "-"
            typer.echo(f"{user.id:>4} {user.login:<20} {user.role:<10} {state:<8} {phones}")


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="what the token is for, e.g. crm")],
    scope: Annotated[
        list[str] | None,
        typer.Option(help="a scope such as calls:read; repeat for more (at least one)"),
    ] = None,
    expires_days: Annotated[
        int | None,
        typer.Option(help="days until it expires (1 or more); without it, it never expires"),
    ] = None,
) -> None:
    """Create an API token; the secret is printed once and stored hashed."""
    from datetime import timedelta

    from callagent.auth.scopes import Scope, parse_scopes
    from callagent.auth.service import create_token, now

    if not scope:  # Typer's own "Missing option" said neither why nor which
        typer.echo(
            "callagent: a token needs at least one --scope (repeat it for more), e.g.\n"
            f"  callagent tokens create {shlex.quote(name)} --scope calls:read --scope "
            "calls:read_pii\n"
            "the scopes: " + ", ".join(sorted(s.value for s in Scope)),
            err=True,
        )
        raise typer.Exit(2)
    try:
        scopes = parse_scopes(scope)
    except ValueError as exc:
        typer.echo(f"callagent: {exc}", err=True)
        raise typer.Exit(2) from None
    if expires_days is not None and not 1 <= expires_days <= 36_500:
        # 0 used to mean "never expires" (a falsy number of days): refused, not guessed
        typer.echo(
            f"callagent: --expires-days {expires_days}: give 1 to 36500 days, or leave "
            "--expires-days out for a token that never expires",
            err=True,
        )
        raise typer.Exit(2)
    expires = now() + timedelta(days=expires_days) if expires_days is not None else None
    with _sessions()() as session:
        secret, row = create_token(
            session, name=name, scopes=scopes, expires_at=expires, created_by=None
        )
        session.commit()
        typer.echo(f"token {row.id} ({name}): {secret}")
        typer.echo("store it now: it is not shown again", err=True)


@tokens_app.command("list")
def tokens_list() -> None:
    """List tokens (never their secrets)."""
    from sqlalchemy import select

    from callagent.auth.service import now, token_state
    from callagent.db.models import ApiToken

    stamp = now()
    with _sessions()() as session:
        for row in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            state = token_state(row, stamp)
            typer.echo(
                f"{row.id:>4} {row.name:<20} {row.prefix}… {state:<8} {','.join(row.scopes)}"
            )


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(help="token id")]) -> None:
    """Revoke a token now."""
    from callagent.auth.service import revoke_token

    with _sessions()() as session:
        if revoke_token(session, token_id=token_id) is None:
            typer.echo(f"callagent: no token with id {token_id}", err=True)
            raise typer.Exit(1)
        session.commit()
        typer.echo(f"token {token_id} revoked")


def main() -> None:
    """Entry point of the console script."""
    app()
