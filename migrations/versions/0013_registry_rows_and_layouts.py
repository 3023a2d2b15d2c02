"""registry_rows and registry_imports.header_row / layout_key: the registry back row for row

The export gives the operations department's file back row for row: the rows that are
no entry (title rows above the header, duplicates) are kept in registry_rows with their
cells, and the import remembers its header's row number. layout_key (the header row's
SHA-256) lets the next registry of the same layout find the mapping a supervisor chose.
Imports made before keep their old export layout (header_row NULL); their layout_key is
computed here from the header they stored, so their mappings are remembered too.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _layout_key(columns: list[Any]) -> str:
    """As callagent.campaigns.registry_import.layout_key computes it (kept here, so that
    this migration does the same whatever that module becomes)."""
    cells = [str(c) for c in columns]
    while cells and not cells[-1]:
        cells.pop()
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("registry_imports") as batch_op:
        batch_op.add_column(sa.Column("header_row", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("layout_key", sa.String(length=64), nullable=False, server_default="")
        )
    op.create_index(
        "ix_registry_imports_layout_key", "registry_imports", ["layout_key"], unique=False
    )
    op.create_table(
        "registry_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("of_import", sa.Integer(), nullable=True),
        sa.Column("of_row", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["import_id"], ["registry_imports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("import_id", "row_number", name="uq_registry_rows_row"),
    )
    imports = sa.table(
        "registry_imports",
        sa.column("id", sa.Integer()),
        sa.column("columns", sa.JSON()),
        sa.column("layout_key", sa.String()),
    )
    bind = op.get_bind()
    for import_id, columns in bind.execute(sa.select(imports.c.id, imports.c.columns)).all():
        bind.execute(
            imports.update()
            .where(imports.c.id == import_id)
            .values(layout_key=_layout_key(columns or []))
        )


def downgrade() -> None:
    op.drop_table("registry_rows")
    op.drop_index("ix_registry_imports_layout_key", table_name="registry_imports")
    with op.batch_alter_table("registry_imports") as batch_op:
        batch_op.drop_column("layout_key")
        batch_op.drop_column("header_row")
