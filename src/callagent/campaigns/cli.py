"""``callagent campaigns ...`` and ``callagent registry ...``: campaigns and their registries
from the command line (the same services as the HTTP API); ``campaigns run`` dials them
(:mod:`callagent.campaigns.run_cli`)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from callagent.campaigns.run_cli import run as run_campaigns
from callagent.cli_support import sessions_or_exit, settings_or_exit
from callagent.config import Settings

campaigns_app = typer.Typer(
    help="Notification campaigns: add, list, show, and run (dial what is due, for cron).",
    no_args_is_help=True,
)
registry_app = typer.Typer(
    help="Registries of ready documents: import (CSV/XLSX), export with results.",
    no_args_is_help=True,
)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"callagent: {message}", err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    return settings_or_exit()


def _sessions(settings: Settings) -> sessionmaker[Session]:
    return sessions_or_exit(settings)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


def _campaign(session: Session, ref: str) -> Any:
    from callagent.campaigns import service

    try:
        return service.find_campaign(session, ref=ref)
    except service.NotFound as exc:
        raise _fail(str(exc)) from exc


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'value'}: {error['msg']}"
        for error in exc.errors()
    )


@campaigns_app.command("add")
def campaigns_add(
    name: Annotated[str, typer.Argument(help="campaign name, e.g. 'Паспорта ноябрь'")],
    mode: Annotated[str, typer.Option(help="message (play a message) or operator")] = "message",
    timezone: Annotated[
        str, typer.Option(help="the office's time zone (numbers that do not tell theirs)")
    ] = "Europe/Moscow",
    window: Annotated[
        str | None,
        typer.Option(help='calling window JSON, e.g. {"mon": [["09:00", "20:00"]], ...}'),
    ] = None,
    holiday: Annotated[
        list[str] | None, typer.Option(help="a day without calls, YYYY-MM-DD; repeat")
    ] = None,
    max_concurrent: Annotated[int, typer.Option(help="calls at once")] = 10,
    max_attempts: Annotated[int, typer.Option(help="attempts per entry")] = 3,
    calls_per_second: Annotated[float, typer.Option(help="new calls per second")] = 2.0,
    caller_id: Annotated[str, typer.Option(help="caller id shown to applicants")] = "",
    dial_template: Annotated[
        str, typer.Option(help="dial string, {number} is the E.164 number")
    ] = "PJSIP/{number}@trunk",
) -> None:
    """Add a campaign (status draft); import a registry into it, then start it."""
    from callagent.campaigns import service
    from callagent.campaigns.schemas import CampaignCreate

    values: dict[str, Any] = {
        "name": name,
        "mode": mode,
        "office_timezone": timezone,
        "holidays": holiday or [],
        "max_concurrent": max_concurrent,
        "max_attempts": max_attempts,
        "calls_per_second": calls_per_second,
        "caller_id": caller_id,
        "dial_template": dial_template,
    }
    if window is not None:
        try:
            values["window"] = json.loads(window)
        except json.JSONDecodeError as exc:
            raise _fail(f"--window is not JSON: {exc.msg}", 2) from exc
    try:
        spec = CampaignCreate(**values)
    except ValidationError as exc:
        raise _fail(_validation_message(exc), 2) from exc
    with _sessions(_settings())() as session:
        try:
            campaign = service.create_campaign(session, spec=spec, actor=_actor())
        except service.Conflict as exc:
            raise _fail(str(exc)) from exc
        typer.echo(f"campaign {campaign.id} {campaign.name!r} added ({campaign.mode}, draft)")


@campaigns_app.command("list")
def campaigns_list() -> None:
    """Every campaign with its status and progress."""
    from callagent.campaigns import service

    with _sessions(_settings())() as session:
        campaigns = service.list_campaigns(session)
        if not campaigns:
            typer.echo("no campaigns yet: callagent campaigns add NAME")
        progress_of = service.progress_of_many(session, campaigns=campaigns)
        for campaign in campaigns:
            progress = progress_of[campaign.id]
            typer.echo(
                f"{campaign.id:>4}  {campaign.name:<30} {campaign.mode:<8} {campaign.status:<8} "
                f"{progress.done}/{progress.entries_total} done, "
                f"{progress.calls_in_flight} in flight"
            )


def progress_bar(done: int, total: int, width: int = 30) -> str:
    """``[##########----------]  50%`` for a terminal."""
    share = done / total if total else 0.0
    filled = round(share * width)
    return f"[{'#' * filled}{'-' * (width - filled)}] {share:4.0%}"


@campaigns_app.command("show")
def campaigns_show(
    campaign: Annotated[str, typer.Argument(help="campaign name (or id)")],
) -> None:
    """A campaign's settings and progress: entries by status, attempts by result."""
    from callagent.campaigns import service

    with _sessions(_settings())() as session:
        row = _campaign(session, campaign)
        progress = service.progress(session, campaign=row)
        imports = service.list_imports(session, campaign_id=row.id)
        typer.echo(f"campaign {row.id} {row.name!r}: {row.mode}, {row.status}")
        typer.echo(
            f"  office time zone {row.office_timezone}; up to {row.max_concurrent} calls at "
            f"once, {row.calls_per_second:g}/s, {row.max_attempts} attempts per entry"
        )
        days = ", ".join(
            f"{day} " + " ".join(f"{a}-{b}" for a, b in spans)
            for day, spans in row.window.items()
            if spans
        )
        typer.echo(f"  window: {days or 'none'}")
        if row.holidays:
            typer.echo(f"  holidays: {', '.join(row.holidays)}")
        typer.echo(f"  registry imports: {len(imports)}")
        typer.echo(
            f"  {progress_bar(progress.done, progress.entries_total)} "
            f"{progress.done}/{progress.entries_total} entries done"
        )
        typer.echo("  entries: " + _counts(progress.entries_by_status))
        typer.echo("  attempts: " + (_counts(progress.attempts_by_result) or "none yet"))
        typer.echo(f"  calls in flight: {progress.calls_in_flight}")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items() if value)


def parse_map(items: list[str]) -> dict[str, list[str]]:
    """``["phones=Телефон", "phones=Телефон 2", "name=ФИО"]`` -> field -> headers."""
    mapping: dict[str, list[str]] = {}
    for item in items:
        field, sep, header = item.partition("=")
        if not sep or not field.strip() or not header.strip():
            raise ValueError(f"--map {item!r}: write field=Header, e.g. phones=Телефон")
        mapping.setdefault(field.strip(), []).append(header.strip())
    return mapping


def _describe(item: dict[str, Any], mapping: dict[str, Any]) -> str:
    values = item.get("values", {})
    shown = [*mapping.get("name", []), *mapping.get("phones", [])]
    cells = ", ".join(f"{key}={values[key]!r}" for key in shown if values.get(key))
    return f"  row {item['row']:>5}: {item['reason']}" + (f" [{cells}]" if cells else "")


@registry_app.command("import")
def registry_import(
    file: Annotated[Path, typer.Argument(help="the registry: CSV or XLSX")],
    campaign: Annotated[str, typer.Option(help="campaign name (or id)")],
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="field=Header (fields: name, phones, case_number, service, office, "
            "ready_date, note; ignore=Header leaves a column out); repeat, e.g. "
            "--map phones=Телефон --map 'phones=Телефон 2'",
        ),
    ] = None,
) -> None:
    """Import a registry; print the report. Exit 1 when no row can be called."""
    from callagent.campaigns.registry_import import import_registry
    from callagent.campaigns.tables import RegistryFileError

    try:
        mapping = parse_map(map_ or [])
    except ValueError as exc:
        raise _fail(str(exc), 2) from exc
    settings = _settings()
    try:
        with file.open("rb") as stream:  # one byte over the limit is enough to refuse it
            data = stream.read(settings.registry_max_bytes + 1)
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}", 2) from exc
    with _sessions(settings)() as session:
        row = _campaign(session, campaign)
        try:
            outcome = import_registry(
                session,
                campaign_id=row.id,
                data=data,
                filename=file.name,
                mapping=mapping,
                actor=_actor(),
                region=settings.phone_region,
                max_bytes=settings.registry_max_bytes,
                max_rows=settings.registry_max_rows,
            )
        except RegistryFileError as exc:
            raise _fail(f"{file}: {exc}", 2) from exc
        record = outcome.record
        if outcome.repeated:
            typer.echo(
                f"{file.name}: this file was imported already (import {record.id}, "
                f"{record.created_at:%Y-%m-%d %H:%M} UTC); nothing added. Its report:"
            )
        else:
            typer.echo(f"{file.name}: import {record.id} into campaign {row.name!r}")
        for note in outcome.notes:
            typer.echo(f"  note: {note}")
        typer.echo(
            f"  rows: {record.rows_total}; to call: {record.rows_imported}; "
            f"not called: {record.rows_rejected}"
        )
        typer.echo(
            "  columns: "
            + ", ".join(f"{field}={'+'.join(cols)}" for field, cols in record.mapping.items())
        )
        for item in record.report:
            typer.echo(_describe(item, record.mapping) + (" (kept)" if item["imported"] else ""))
        if record.rows_imported == 0:
            raise _fail("no row of this file can be called", 1)


def export_format_of(output: Path) -> str:
    """The export format the output file's name asks for (``.csv``, ``.xlsx``)."""
    suffix = output.suffix.lower()
    if suffix in (".csv", ".xlsx"):
        return suffix[1:]
    named = f"extension {suffix!r}" if suffix else "no extension"
    raise _fail(
        f"{output} has {named}: name it .csv or .xlsx, or say --format csv or --format xlsx", 2
    )


@registry_app.command("export")
def registry_export(
    campaign: Annotated[str, typer.Option(help="campaign name (or id)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="file to write: .csv or .xlsx")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv or xlsx (default: the output file's extension)"),
    ] = None,
    lang: Annotated[str, typer.Option(help="result headers and statuses: ru or en")] = "ru",
    import_id: Annotated[
        int | None, typer.Option("--import", help="one upload alone (default: every upload)")
    ] = None,
) -> None:
    """Write the registry with results: each upload row for row, the result columns added."""
    from callagent.auth.scopes import ALL_SCOPES
    from callagent.auth.service import Principal, audit
    from callagent.campaigns import service
    from callagent.campaigns.registry_export import export_file

    fmt = fmt if fmt is not None else export_format_of(output)
    if fmt not in ("csv", "xlsx"):
        raise _fail(f"--format {fmt!r}: use csv or xlsx", 2)
    if lang not in ("ru", "en"):
        raise _fail(f"--lang {lang!r}: use ru or en", 2)
    with _sessions(_settings())() as session:
        row = _campaign(session, campaign)
        if import_id is not None:
            try:
                service.get_import(session, campaign_id=row.id, import_id=import_id)
            except service.NotFound as exc:
                raise _fail(str(exc), 2) from exc
        data, rows = export_file(
            session,
            campaign=row,
            fmt=fmt,  # type: ignore[arg-type]
            lang=lang,  # type: ignore[arg-type]
            import_id=import_id,
        )
        try:
            output.write_bytes(data)
        except OSError as exc:
            raise _fail(f"cannot write {output}: {exc.strerror}", 2) from exc
        audit(
            session,
            principal=Principal(actor=_actor(), scopes=ALL_SCOPES),
            action="campaigns.registry_export",
            detail={"campaign_id": row.id, "format": fmt, "via": "cli"},
            rows=rows,
        )
        session.commit()
        typer.echo(f"{output}: {rows} rows of campaign {row.name!r} with results")


# `callagent campaigns run`: the dialer for cron, listed after the commands above
campaigns_app.command("run")(run_campaigns)
