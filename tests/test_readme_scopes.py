"""The README's scope table names every scope, with the roles that hold it."""

from __future__ import annotations

import re
from pathlib import Path

from callagent.auth.scopes import ROLE_SCOPES, Role, Scope

README = Path(__file__).resolve().parents[1] / "README.md"
ROLES = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)  # the table's last three columns


def _scope_rows() -> list[tuple[list[str], list[str]]]:
    """(scopes named in the first column, the three role cells) of each table row."""
    text = README.read_text("utf-8")
    start = text.index("| scope | allows | operator | supervisor | admin |")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows.append((re.findall(r"`([a-z_]+:[a-z_]+)`", cells[0]), cells[-3:]))
    return rows


def test_every_scope_has_a_row() -> None:
    named = {scope for scopes, _ in _scope_rows() for scope in scopes}
    assert named == {scope.value for scope in Scope}


def test_the_role_columns_agree_with_the_roles() -> None:
    for scopes, cells in _scope_rows():
        for role, cell in zip(ROLES, cells, strict=True):
            held = {scope in ROLE_SCOPES[role] for scope in scopes}
            if cell == "✓":
                assert held == {True}, (scopes, role)
            elif cell == "":
                assert held == {False}, (scopes, role)
