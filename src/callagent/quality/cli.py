"""``callagent quality sample``: the week's sample of answered calls for the evaluators,
for cron (a second run the same week tops up, never draws twice)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import select

from callagent.cli_support import sessions_or_exit, settings_or_exit
from callagent.db.models import User
from callagent.errors import ServiceError
from callagent.quality.sampling import SampleFilter, sample_week

app = typer.Typer(help="QA evaluation: the weekly sample.", no_args_is_help=True)


@app.command("sample")
def sample_command(
    evaluator: Annotated[
        list[str],
        typer.Option("--evaluator", "-e", help="login of an evaluator (repeat for several)"),
    ],
    per_operator: Annotated[
        int, typer.Option("--per-operator", "-n", min=1, max=100, help="calls per operator")
    ] = 5,
    week: Annotated[
        str | None,
        typer.Option(help="any day of the week, YYYY-MM-DD (default: last week)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="the draw's seed: the same seed, the same calls")] = 0,
    topic: Annotated[str | None, typer.Option(help="only calls of this routing topic")] = None,
    min_talk: Annotated[
        float | None, typer.Option("--min-talk", help="only calls that talked this many seconds")
    ] = None,
    complaints: Annotated[
        bool, typer.Option("--complaints", help="only calls a complaint was registered from")
    ] = False,
    repeat: Annotated[
        bool,
        typer.Option(
            "--repeat-callers", help="only calls from numbers that called in the 7 days before"
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Draw N answered calls per operator of a week (CALLAGENT_TIMEZONE) at random among
    those the filters keep, and give each to one of the evaluators (never their own call;
    a supervisor with a group only their group's). Prints how many each operator got."""
    settings = settings_or_exit()
    zone = ZoneInfo(settings.timezone)
    if week is None:
        day = datetime.now(zone).date() - timedelta(days=7)
    else:
        try:
            day = date.fromisoformat(week)
        except ValueError as exc:
            typer.echo(f"callagent: --week '{week}' is not a day (YYYY-MM-DD)", err=True)
            raise typer.Exit(2) from exc
    sessions = sessions_or_exit(settings)
    with sessions() as db:
        found = dict(db.execute(select(User.login, User.id).where(User.login.in_(evaluator))).all())
        unknown = sorted(set(evaluator) - set(found))
        if unknown:
            typer.echo(f"callagent: no user with login {', '.join(unknown)}", err=True)
            raise typer.Exit(2)
        where = SampleFilter(topic, min_talk, complaints, repeat)
        try:
            result = sample_week(
                db,
                week=day,
                zone=zone,
                per_operator=per_operator,
                evaluators=[found[login] for login in evaluator],
                seed=seed,
                where=where,
                now=datetime.now(UTC),
                created_by=None,
            )
        except ServiceError as exc:
            typer.echo(f"callagent: {exc.detail}", err=True)
            raise typer.Exit(2) from exc
        db.commit()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "week": result.week.isoformat(),
                    "assigned": [
                        {"call_id": c, "operator_id": o, "evaluator_id": e}
                        for c, o, e in result.assigned
                    ],
                    "short": {str(k): v for k, v in sorted(result.short.items())},
                }
            )
        )
        return
    typer.echo(
        f"week of {result.week.isoformat()} ({where.reason()}): {len(result.assigned)} calls "
        f"assigned; operators short of {per_operator}: {len(result.short)}"
    )
    for call, operator, evaluator_id in result.assigned:
        typer.echo(f"  call {call}: operator {operator} -> evaluator {evaluator_id}")
