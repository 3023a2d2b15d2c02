"""Is the database usable: what readiness checks, and which failures are worth a retry.

Readiness asks for a write, not a read: a SQLite file another process holds locked
still answers ``SELECT 1`` (WAL readers are never blocked) while every state change
fails, and a PostgreSQL in read-only mode (a standby, ``default_transaction_read_only``)
answers reads too.
"""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# Changes no row and leaves nothing behind (rolled back), yet needs the right to write:
# SQLite takes its write lock for it, PostgreSQL refuses it in a read-only transaction.
# The table every callagent database has (the schema check reads it at start-up);
# nothing else writes it outside a migration, so the check never waits for routing's rows.
_PROBE = text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0")


def check_writable(engine: Engine, timeout: float = 1.0) -> None:
    """Raise unless the database accepts a write within ``timeout`` seconds (readiness).

    A zero-row UPDATE in a transaction that is rolled back. SQLite: the connection's
    busy wait is shortened for the probe (the service's writers wait 30 s for a lock,
    readiness must answer before that) and restored after it; PostgreSQL: lock and
    statement timeouts for this transaction only.
    """
    millis = max(1, int(timeout * 1000))
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        before = None
        try:
            if sqlite:
                before = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {millis}")
            else:
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {millis}")
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {millis}")
            conn.execute(_PROBE)
        finally:
            conn.rollback()
            if before is not None:
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(before)}")
                conn.rollback()


def transient(exc: BaseException) -> bool:
    """A failure that passes when the database is back (worth retrying the same work).

    The connection refused, dropped or terminated, a lock not obtained in time, the
    pool empty: yes. A constraint violated or a bad statement: no, the same work would
    fail again.
    """
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)
