"""What the benchmarks share."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from callagent.db.session import normalise_url


def postgres_database(server: str) -> tuple[str, Callable[[], None]]:
    """A fresh database on ``server`` and the function that drops it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"callagent_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    url = make_url(normalise_url(server)).set(database=name).render_as_string(hide_password=False)
    return url, drop
