"""What every ``callagent`` command needs first: the settings and a database at the
current schema, or a clear message and the documented exit code (2 configuration,
3 schema behind)."""

from __future__ import annotations

import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from callagent.config import Settings, get_settings


def settings_or_exit() -> Settings:
    """The settings; exit 2 naming the variable and the problem when they are wrong."""
    try:
        return get_settings()
    except Exception as exc:  # pydantic's message names the variable and the problem
        typer.echo(f"callagent: configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


def engine_or_exit(settings: Settings) -> Engine:
    """An engine on the configured database; exit 3 when its schema is behind."""
    from callagent.db.session import SchemaError, check_schema, make_engine

    engine = make_engine(settings.database_url)
    try:
        check_schema(engine)
    except SchemaError as exc:
        engine.dispose()
        typer.echo(f"callagent: {exc}", err=True)
        raise typer.Exit(3) from exc
    return engine


def sessions_or_exit(settings: Settings) -> sessionmaker[Session]:
    """Sessions on the configured database; exit 3 when its schema is behind."""
    from callagent.db.session import make_sessionmaker

    return make_sessionmaker(engine_or_exit(settings))
