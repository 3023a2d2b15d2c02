"""report_aggregates, report_aggregate_pauses, report_dirty, report_aggregate_state:
interval aggregates for reports over a year (issue #12), and the triggers that queue
what changed

Every write that can change a report's figure (an ended inbound call stored, corrected
by reconciliation or deleted; an operator's state change; an operator's login or phones)
leaves a row in report_dirty in its own transaction, by trigger, so no writer (the
tracker's store, the resync, the CEL reconciliation, an administrator's SQL) can forget
it. Also an index for the repeat callers' look-back (calls by caller number and time)
and one for after-call work (state changes by call).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_SUMS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "unanswered",
    "answered_within_threshold",
    "abandoned_within_threshold",
    "transferred",
    "repeat_24h",
    "repeat_7d",
)
_SECONDS = (
    "answered_wait_seconds",
    "talk_seconds",
    "hold_seconds",
    "acw_seconds",
    "longest_wait_seconds",
    "logged_in_seconds",
    "paused_seconds",
    "busy_seconds",
)

_PG = [
    """
    CREATE FUNCTION report_dirty_call() RETURNS trigger AS $$
    BEGIN
      IF TG_OP <> 'INSERT' AND OLD.final AND OLD.direction = 'inbound' THEN
        INSERT INTO report_dirty (kind, at, ref)
        VALUES ('call', OLD.started_at, OLD.caller_number);
      END IF;
      IF TG_OP <> 'DELETE' AND NEW.final AND NEW.direction = 'inbound' THEN
        INSERT INTO report_dirty (kind, at, ref)
        VALUES ('call', NEW.started_at, NEW.caller_number);
      END IF;
      RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER report_dirty_call AFTER INSERT OR UPDATE OR DELETE ON calls
    FOR EACH ROW EXECUTE FUNCTION report_dirty_call()
    """,
    """
    CREATE FUNCTION report_dirty_state() RETURNS trigger AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        INSERT INTO report_dirty (kind, at, ref) VALUES ('state', OLD.at, OLD.user_id::text);
      END IF;
      IF TG_OP <> 'DELETE' THEN
        INSERT INTO report_dirty (kind, at, ref) VALUES ('state', NEW.at, NEW.user_id::text);
      END IF;
      RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER report_dirty_state AFTER INSERT OR UPDATE OR DELETE
    ON operator_state_history FOR EACH ROW EXECUTE FUNCTION report_dirty_state()
    """,
    """
    CREATE FUNCTION report_dirty_users() RETURNS trigger AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.login = NEW.login
         AND OLD.endpoints::text = NEW.endpoints::text THEN
        RETURN NULL;
      END IF;
      INSERT INTO report_dirty (kind, at, ref) VALUES ('users', NULL, '');
      RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER report_dirty_users AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION report_dirty_users()
    """,
]

_CALL = "INSERT INTO report_dirty (kind, at, ref) SELECT 'call', {0}.started_at, {0}.caller_number"
_FINAL = "WHERE {0}.final AND {0}.direction = 'inbound'"
_SQLITE = [
    f"""
    CREATE TRIGGER report_dirty_call_insert AFTER INSERT ON calls
    BEGIN {_CALL.format("NEW")} {_FINAL.format("NEW")}; END
    """,
    f"""
    CREATE TRIGGER report_dirty_call_update AFTER UPDATE ON calls
    WHEN OLD.final OR NEW.final
    BEGIN
      {_CALL.format("OLD")} {_FINAL.format("OLD")};
      {_CALL.format("NEW")} {_FINAL.format("NEW")};
    END
    """,
    f"""
    CREATE TRIGGER report_dirty_call_delete AFTER DELETE ON calls
    BEGIN {_CALL.format("OLD")} {_FINAL.format("OLD")}; END
    """,
    """
    CREATE TRIGGER report_dirty_state_insert AFTER INSERT ON operator_state_history
    BEGIN INSERT INTO report_dirty (kind, at, ref) VALUES ('state', NEW.at, NEW.user_id); END
    """,
    """
    CREATE TRIGGER report_dirty_state_update AFTER UPDATE ON operator_state_history
    BEGIN
      INSERT INTO report_dirty (kind, at, ref) VALUES ('state', OLD.at, OLD.user_id);
      INSERT INTO report_dirty (kind, at, ref) VALUES ('state', NEW.at, NEW.user_id);
    END
    """,
    """
    CREATE TRIGGER report_dirty_state_delete AFTER DELETE ON operator_state_history
    BEGIN INSERT INTO report_dirty (kind, at, ref) VALUES ('state', OLD.at, OLD.user_id); END
    """,
    """
    CREATE TRIGGER report_dirty_users_insert AFTER INSERT ON users
    BEGIN INSERT INTO report_dirty (kind, at, ref) VALUES ('users', NULL, ''); END
    """,
    """
    CREATE TRIGGER report_dirty_users_update AFTER UPDATE ON users
    WHEN OLD.login IS NOT NEW.login OR OLD.endpoints IS NOT NEW.endpoints
    BEGIN INSERT INTO report_dirty (kind, at, ref) VALUES ('users', NULL, ''); END
    """,
    """
    CREATE TRIGGER report_dirty_users_delete AFTER DELETE ON users
    BEGIN INSERT INTO report_dirty (kind, at, ref) VALUES ('users', NULL, ''); END
    """,
]


def _key() -> list[sa.Column[object]]:
    return [
        sa.Column("level", sa.Integer(), primary_key=True),
        sa.Column("dim", sa.String(16), primary_key=True),
        sa.Column("start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("value", sa.String(160), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "report_aggregates",
        *_key(),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _SUMS),
        *(sa.Column(name, sa.Float(), nullable=False) for name in _SECONDS),
    )
    op.create_table(
        "report_aggregate_pauses",
        *_key(),
        sa.Column("reason", sa.String(32), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
    )
    op.create_table(
        "report_dirty",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ref", sa.String(64), nullable=False),
    )
    op.create_table(
        "report_aggregate_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("covered_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("horizon", sa.DateTime(timezone=True), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_calls_caller", "calls", ["caller_number", "started_at"])
    # a drain replaces an hour's cells of every dim; after-call work finds a call's
    # wrap-up by its key
    op.create_index("ix_report_aggregates_start", "report_aggregates", ["start", "level"])
    op.create_index(
        "ix_report_aggregate_pauses_start", "report_aggregate_pauses", ["start", "level"]
    )
    op.create_index("ix_operator_state_history_call", "operator_state_history", ["call"])
    for statement in _PG if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("calls", "operator_state_history", "users"):
            name = {"calls": "call", "operator_state_history": "state", "users": "users"}[table]
            op.execute(f"DROP TRIGGER report_dirty_{name} ON {table}")
            op.execute(f"DROP FUNCTION report_dirty_{name}()")
    else:
        for name in ("call", "state", "users"):
            for when in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER report_dirty_{name}_{when}")
    op.drop_index("ix_operator_state_history_call", "operator_state_history")
    op.drop_index("ix_calls_caller", "calls")
    for table in (
        "report_aggregate_state",
        "report_dirty",
        "report_aggregate_pauses",
        "report_aggregates",
    ):
        op.drop_table(table)
