"""The CLI as people type it (issue #17 point 11c, 11d): one ``campaigns`` group that
also runs the dialer (``campaign run``, one letter apart, still works for old crontabs
but is not listed), and ``tokens create`` without ``--scope`` says what to give."""

from __future__ import annotations

from sqlalchemy import func, select
from typer.testing import CliRunner

from callagent.auth.scopes import Scope
from callagent.cli import app
from callagent.db.models import ApiToken
from callagent.db.session import make_engine, make_sessionmaker
from tests.test_tokens_cli import callagent


def _help(*path: str) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_campaigns_is_one_group_with_run() -> None:
    top = _help()
    assert "│ campaigns " in top
    assert "│ campaign " not in top  # the old spelling is hidden
    group = _help("campaigns")
    for command in ("add", "list", "show", "run"):
        assert f"│ {command} " in group, command
    for path in (("campaigns", "run"), ("campaign", "run")):
        text = _help(*path)
        assert f"{' '.join(path)} [OPTIONS]" in text
        assert "--until" in text and "--max-calls" in text


def test_both_spellings_run_the_dialer(db_url: str) -> None:
    for group in ("campaigns", "campaign"):
        run = callagent(db_url, group, "run")
        # exit 4 and its reason: the dialer itself ran and found no PBX to dial through
        assert run.returncode == 4, (group, run.stdout, run.stderr)
        assert "no AMI node configured" in run.stderr


def test_a_token_without_a_scope_is_told_which_there_are(db_url: str) -> None:
    refused = callagent(db_url, "tokens", "create", "crm")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "needs at least one --scope" in refused.stderr
    assert "callagent tokens create crm --scope calls:read" in refused.stderr
    for scope in Scope:
        assert scope.value in refused.stderr, scope
    assert refused.stdout == ""
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as session:
            assert session.scalar(select(func.count()).select_from(ApiToken)) == 0
    finally:
        engine.dispose()
    made = callagent(db_url, "tokens", "create", "crm", "--scope", "calls:read")
    assert made.returncode == 0, made.stderr  # with a scope, as before
