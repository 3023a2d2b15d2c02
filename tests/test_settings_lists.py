"""List-valued settings read from the environment and from .env, in the forms the README
documents: a comma list or a JSON list for lists of names, JSON for lists of objects."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

from callagent.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"
LIST_FIELDS = sorted(
    name for name, field in Settings.model_fields.items() if get_origin(field.annotation) is list
)
# What each documented example means, per list setting.
EXPECTED: dict[str, list[Any]] = {
    "complaint_holidays": ["2027-01-01", "2027-01-07"],
    "planning_holidays": ["2027-01-01", "2027-01-07"],
    "planning_shrinkage": ["breaks=0.10", "training=0.05"],
    "planning_labour_rules": ["max_week_minutes=2400", "min_rest_minutes=660"],
    "planning_team_shares": ["sales=0.6", "support=0.4"],
    "trunk_endpoints": ["PJSIP/trunk", "PJSIP/trunk-dead"],
    "trusted_proxies": ["10.0.0.5", "10.1.0.0/16"],
    "ami_nodes": [
        {"name": "pbx1", "host": "10.0.0.5", "port": 5038, "username": "callagent"},
    ],
}


def _plain(values: list[Any], expected: list[Any]) -> list[Any]:
    """The values as plain data, objects cut to the keys the expectation names."""
    return [
        {key: v.model_dump()[key] for key in e} if isinstance(v, BaseModel) else v
        for v, e in zip(values, expected, strict=True)
    ]


def _readme_examples(name: str) -> list[str]:
    """The backticked values in the meaning column of the setting's README row."""
    variable = f"CALLAGENT_{name.upper()}"
    rows = [line for line in README.read_text("utf-8").splitlines() if f"`{variable}`" in line]
    assert rows, f"README's configuration table has no row for {variable}"
    meaning = rows[0].split(" | ", 2)[2]
    return [text for text in re.findall(r"`([^`]+)`", meaning) if "," in text or "[" in text]


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in LIST_FIELDS:
        monkeypatch.delenv(f"CALLAGENT_{name.upper()}", raising=False)


def test_every_list_setting_has_its_documented_forms_listed_here() -> None:
    assert sorted(EXPECTED) == LIST_FIELDS  # a new list setting needs its forms tested


@pytest.mark.parametrize("name", LIST_FIELDS)
def test_documented_forms_from_the_environment_and_dotenv(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    examples = _readme_examples(name)
    item = get_args(Settings.model_fields[name].annotation)[0]
    if item is str:  # a list of names: both forms are documented and both work
        assert any(e.startswith("[") for e in examples), examples
        assert any(not e.startswith("[") for e in examples), examples
    assert examples
    for text in examples:
        monkeypatch.setenv(f"CALLAGENT_{name.upper()}", text)
        assert _plain(getattr(Settings(), name), EXPECTED[name]) == EXPECTED[name], text
        monkeypatch.delenv(f"CALLAGENT_{name.upper()}")
        dotenv = tmp_path / "settings.env"
        dotenv.write_text(f"CALLAGENT_{name.upper()}='{text}'\n", "utf-8")
        from_file = Settings(_env_file=dotenv)
        assert _plain(getattr(from_file, name), EXPECTED[name]) == EXPECTED[name], text


def test_the_readme_comma_list_with_spaces_and_an_empty_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLAGENT_TRUNK_ENDPOINTS", " PJSIP/trunk , PJSIP/trunk-dead ,")
    assert Settings().trunk_endpoints == ["PJSIP/trunk", "PJSIP/trunk-dead"]
    monkeypatch.setenv("CALLAGENT_TRUNK_ENDPOINTS", "PJSIP/trunk")
    assert Settings().trunk_endpoints == ["PJSIP/trunk"]
    monkeypatch.setenv("CALLAGENT_TRUNK_ENDPOINTS", "")
    assert Settings().trunk_endpoints == []


def test_a_broken_list_says_what_to_write(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLAGENT_TRUNK_ENDPOINTS", '["PJSIP/trunk",')
    with pytest.raises(ValidationError, match="write a comma list such as a,b"):
        Settings()
    monkeypatch.delenv("CALLAGENT_TRUNK_ENDPOINTS")
    # The nodes' own message, not pydantic-settings' "error parsing value".
    monkeypatch.setenv("CALLAGENT_AMI_NODES", "pbx1,pbx2")
    with pytest.raises(ValidationError, match="CALLAGENT_AMI_NODES must be a JSON list"):
        Settings()
