"""planning: teams in schedules, pause checks (issue #14)

Reserved for that work; it changes nothing yet.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
