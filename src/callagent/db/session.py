"""Engines and sessions; the schema check that refuses a database that is behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from callagent.jsonsafe import load_stored_json


def migrations_dir() -> Path:
    """Alembic's scripts: inside the installed package (a wheel carries them as
    ``callagent/migrations``, see setup.py), else ``migrations/`` of the source checkout
    (an editable install, the tests, ``alembic`` run by hand from the top)."""
    package = Path(__file__).resolve().parents[1]
    packaged = package / "migrations"
    if (packaged / "env.py").is_file():
        return packaged
    return package.parents[1] / "migrations"


MIGRATIONS_DIR = migrations_dir()


class SchemaError(RuntimeError):
    """The database schema is not the one this version of callagent needs."""


def normalise_url(url: str) -> str:
    """Let people write ``postgresql://``; callagent talks to it through psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def pool_options(size: int, overflow: int, timeout: float) -> dict[str, Any]:
    """A connection pool of ``size`` kept connections, ``overflow`` more at busy times, and
    ``timeout`` seconds a caller waits for one before the pool refuses (instead of the
    default 5 + 10 and 30 s, which a burst of requests outgrows and then queues on)."""
    return {"pool_size": size, "max_overflow": overflow, "pool_timeout": timeout}


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings each backend needs (SQLite: WAL, FKs, busy wait).

    ``kwargs`` go to :func:`sqlalchemy.create_engine` (e.g. :func:`pool_options`); an
    in-memory SQLite database has a single connection, so pool sizes do not apply to it.
    """
    url = normalise_url(url)
    # JSON columns are decoded by jsonsafe: a row stored before input was checked (a lone
    # surrogate, a value nested too deep to serialise) is read repaired, not as a 500.
    kwargs.setdefault("json_deserializer", load_stored_json)
    if url.startswith("sqlite") and make_url(url).database in (None, "", ":memory:"):
        for name in ("pool_size", "max_overflow", "pool_timeout"):
            kwargs.pop(name, None)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(
    engine: Engine, like: sessionmaker[Session] | None = None
) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit.

    With ``like``, the sessions are of its session class, so whatever listens to its
    session events (the live hub) also hears these: the same database through another
    engine (routing's own pool) is still the same stream of committed changes.
    """
    if like is None:
        return sessionmaker(engine, expire_on_commit=False)
    return sessionmaker(engine, class_=like.class_, expire_on_commit=False)


def alembic_config(url: str) -> Any:
    """An Alembic config pointing at ``migrations/`` and the given database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (``callagent migrate``)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest schema revision this version of callagent ships."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise SchemaError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaError`, saying what to run, unless the schema is current."""
    head = head_revision()
    if not inspect(engine).has_table("alembic_version"):
        current = None
    else:
        with engine.connect() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        raise SchemaError(
            f"the database {where} is at schema revision {current or 'none (empty)'}, "
            f"callagent needs {head}: run `callagent migrate` (or `make migrate`) first"
        )
