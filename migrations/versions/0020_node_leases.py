"""AMI node ownership leases and shared routing state for several instances (issue #16)

Reserved for that work; it changes nothing yet.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
