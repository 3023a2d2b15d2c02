"""The README's configuration table names every setting, and names no setting that does
not exist (a renamed variable would leave a stale line)."""

from __future__ import annotations

import re
from pathlib import Path

from callagent.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
# the configuration tables' rows: | `CALLAGENT_X` | default | meaning |
ROWS = [line for line in README.splitlines() if line.startswith("| `CALLAGENT_")]


def _documented() -> set[str]:
    """Every variable the tables' first cells name (each spelled out in full)."""
    return {
        name for row in ROWS for name in re.findall(r"`(CALLAGENT_[A-Z0-9_]+)`", row.split("|")[1])
    }


def _prefix() -> str:
    return str(Settings.model_config.get("env_prefix", "")).upper()


def test_every_setting_is_in_the_readme() -> None:
    documented = _documented()
    missing = [
        f"{_prefix()}{name.upper()}"
        for name in Settings.model_fields
        if f"{_prefix()}{name.upper()}" not in documented
    ]
    assert not missing, f"settings the README does not document: {missing}"


def test_the_readme_names_no_setting_that_does_not_exist() -> None:
    known = {f"{_prefix()}{name.upper()}" for name in Settings.model_fields}
    stale = sorted(_documented() - known)
    assert not stale, f"the configuration tables name variables that are not settings: {stale}"
