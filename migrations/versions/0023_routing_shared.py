"""shared routing state for several instances (issue #16)

Reserved for that work; it changes nothing yet.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
