"""The shipped notification prompts: in the package, installed where Asterisk reads them,
checked by ``callagent prompts check`` and at start-up (issue #11, point 1)."""

from __future__ import annotations

import fnmatch
import logging
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callagent.campaigns.notify_agi import CLOSING, DEFAULT_PROMPTS, DEFAULT_QUESTION
from callagent.cli import app
from callagent.prompts import (
    LANGUAGES,
    PROMPTS,
    TEXTS,
    install,
    missing,
    packaged_dir,
    packaged_file,
    resolve,
    startup_check,
)
from tests.conftest import running_service

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_every_prompt_the_notify_script_plays_is_shipped() -> None:
    played = {p for p in DEFAULT_PROMPTS if not p.startswith("say:")}
    played |= {DEFAULT_QUESTION, *CLOSING.values()}
    assert played == set(PROMPTS)
    for language in LANGUAGES:
        assert set(TEXTS[language]) == set(PROMPTS)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_packaged_files_are_telephony_sound(language: str) -> None:
    for prompt in PROMPTS:
        data = packaged_file(language, prompt).read_bytes()
        seconds = len(data) / 8000  # 8 kHz, one byte a sample (mu-law)
        assert 1.0 < seconds < 12.0, (language, prompt, seconds)
        # speech, not silence (mu-law silence is 0xFF / 0x7F throughout)
        assert len(set(data)) > 100, (language, prompt)


def test_the_package_stays_small_and_the_wheel_takes_every_file() -> None:
    files = sorted(p for p in packaged_dir().rglob("*") if p.is_file())
    assert len(files) == len(LANGUAGES) * len(PROMPTS)
    assert sum(p.stat().st_size for p in files) < 700_000
    # the wheel ships every file under src/callagent (MANIFEST.in grafts it, with
    # include-package-data); tests/test_wheel_install.py checks the built wheel itself
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["include-package-data"] is True
    manifest = (ROOT / "MANIFEST.in").read_text().splitlines()
    assert "graft src/callagent" in manifest
    excluded = [line.split()[1:] for line in manifest if line.startswith("global-exclude")]
    for path in files:
        assert not any(fnmatch.fnmatch(path.name, glob) for globs in excluded for glob in globs)


def test_install_writes_each_language_folder_and_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["prompts", "install", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for language in LANGUAGES:
        for prompt in PROMPTS:
            target = tmp_path / language / f"{prompt}.ulaw"
            assert target.read_bytes() == packaged_file(language, prompt).read_bytes()
            assert f"written  {target}" in result.output
    again = runner.invoke(app, ["prompts", "install", str(tmp_path), "--lang", "ru"])
    assert again.exit_code == 0
    assert again.output.count("kept") == len(PROMPTS)
    assert "written" not in again.output


def test_an_own_recording_is_kept_unless_forced(tmp_path: Path) -> None:
    own = tmp_path / "ru" / "callagent" / "notify-ready.wav"
    own.parent.mkdir(parents=True)
    own.write_bytes(b"RIFF a recorded voice")
    result = runner.invoke(app, ["prompts", "install", str(tmp_path), "--lang", "ru"])
    assert f"kept     {own}" in result.output
    assert not (tmp_path / "ru" / "callagent" / "notify-ready.ulaw").exists()
    assert own.read_bytes() == b"RIFF a recorded voice"
    forced = runner.invoke(app, ["prompts", "install", str(tmp_path), "--lang", "ru", "--force"])
    assert (tmp_path / "ru" / "callagent" / "notify-ready.ulaw").exists()
    assert f"note: {own} is there too" in forced.output
    assert own.exists()  # never deleted


def test_an_unknown_language_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["prompts", "install", str(tmp_path), "--lang", "de"])
    assert result.exit_code == 2
    assert "ru, uk, en" in result.output
    assert not any(tmp_path.iterdir())


def test_check_lists_the_missing_and_fails(tmp_path: Path) -> None:
    result = runner.invoke(app, ["prompts", "check", str(tmp_path)])
    assert result.exit_code == 1
    for prompt in PROMPTS:
        assert f"MISSING  ru: {prompt}" in result.output
    assert f"callagent prompts install {tmp_path}" in result.output
    runner.invoke(app, ["prompts", "install", str(tmp_path)])
    ok = runner.invoke(app, ["prompts", "check", str(tmp_path), "--lang", "ru", "--lang", "uk"])
    assert ok.exit_code == 0, ok.output
    assert f"-> {tmp_path / 'uk' / 'callagent' / 'notify-removed.ulaw'}" in ok.output


def test_asterisk_falls_back_to_english_then_to_no_language(tmp_path: Path) -> None:
    install(tmp_path, ("en",))
    # ru channel, no ru files: Asterisk plays the en ones (file.c's order)
    assert missing(tmp_path, ("ru",)) == []
    assert resolve(tmp_path, PROMPTS[0], "ru") == tmp_path / "en" / f"{PROMPTS[0]}.ulaw"
    flat = tmp_path / "flat"
    (flat / "callagent").mkdir(parents=True)
    (flat / "callagent" / "notify-ready.gsm").write_bytes(b"x")
    assert resolve(flat, "callagent/notify-ready", "ru") == flat / "callagent" / "notify-ready.gsm"
    assert missing(flat) == [f"ru/{p}" for p in PROMPTS[1:]]


def test_startup_names_every_missing_prompt_and_the_command(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="callagent.prompts")
    assert startup_check(str(tmp_path)) == [f"ru/{p}" for p in PROMPTS]
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    text = warning.getMessage()
    for prompt in PROMPTS:
        assert f"{tmp_path / 'ru' / prompt}.*" in text
    assert f"callagent prompts install {tmp_path}" in text
    caplog.clear()
    install(tmp_path, ("ru",))
    assert startup_check(str(tmp_path)) == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_startup_says_once_when_it_does_not_look(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="callagent.prompts")
    assert startup_check("") == []
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert "CALLAGENT_ASTERISK_SOUNDS_DIR is not set" in record.getMessage()


async def test_the_service_warns_at_start_up(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="callagent.prompts")
    async with running_service(db_url, asterisk_sounds_dir=str(tmp_path)):
        pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("callagent/notify-press-1-2-9" in w and "prompts install" in w for w in warnings)
