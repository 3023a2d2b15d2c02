"""``callagent complaints summary``: the complaints past their decision deadline and those
due soon, for cron; sends ``complaint.overdue`` once per overdue complaint per day."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from callagent.cli_support import sessions_or_exit, settings_or_exit
from callagent.complaints.models import Complaint
from callagent.complaints.service import Clock, iso, summary

app = typer.Typer(help="The complaints register.", no_args_is_help=True)


def _line(complaint: Complaint) -> dict[str, Any]:
    # no applicant's name or number: cron mails its output
    return {
        "id": complaint.id,
        "status": complaint.status,
        "deadline_at": iso(complaint.deadline_at),
        "owner_id": complaint.owner_id,
        "operator_id": complaint.operator_id,
        "cause": complaint.cause,
        "office": complaint.office,
    }


@app.command("summary")
def summary_command(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
    no_webhook: Annotated[
        bool, typer.Option("--no-webhook", help="only list; send no complaint.overdue event")
    ] = False,
) -> None:
    """List the undecided complaints past their deadline and those due within
    CALLAGENT_COMPLAINT_DUE_SOON_DAYS; queue a complaint.overdue webhook event for each
    overdue one not reported yet today (in CALLAGENT_TIMEZONE), so cron may run it often."""
    settings = settings_or_exit()
    sessions = sessions_or_exit(settings)
    clock = Clock.of(settings)
    with sessions() as session:
        done = summary(
            session,
            clock=clock,
            now=datetime.now(UTC),
            soon_days=settings.complaint_due_soon_days,
            report=not no_webhook,
        )
        overdue = [_line(c) for c in done.overdue]
        soon = [_line(c) for c in done.due_soon]
        session.commit()
    if as_json:
        typer.echo(
            json.dumps(
                {"overdue": overdue, "due_soon": soon, "reported": done.reported},
                ensure_ascii=False,
            )
        )
        return
    typer.echo(
        f"overdue: {len(overdue)}, due soon: {len(soon)}, "
        f"complaint.overdue events queued: {done.reported}"
    )
    for label, rows in (("overdue", overdue), ("due soon", soon)):
        for row in rows:
            typer.echo(
                f"  {label}: #{row['id']} {row['status']} due {row['deadline_at']} "
                f"owner {row['owner_id'] or '-'} {row['office']}".rstrip()
            )
