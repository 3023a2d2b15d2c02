"""Every `callagent ... --help` describes what exists, not what is planned."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from callagent.cli import app


def _paths(command: Any, path: list[str]) -> Iterator[list[str]]:
    """Every command and group under ``command``, as argument lists."""
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _paths(sub, [*path, name])


PATHS = list(_paths(typer.main.get_command(app), []))


def _help(path: list[str]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_is_walked() -> None:
    walked = {" ".join(path) for path in PATHS}
    assert {"serve", "migrate", "registry export", "campaign run", "tokens create"} <= walked


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "callagent")
def test_no_help_text_promises_something_for_later(path: list[str]) -> None:
    text = _help(path)
    assert not re.search(r"\blater\b|\bnot yet\b|\bTODO\b", text, re.IGNORECASE), text


def test_serve_says_what_fastagi_serves() -> None:
    text = " ".join(_help(["serve"]).split())
    assert "FastAGI" in text
    for script in ("`route`", "feature codes", "`notify`"):
        assert script in text, script
