"""docker/compose.yaml read as a user's `docker compose up` would (issue #16, Deployment).

No Docker engine runs here, so the file is checked against what it names: callagent's
settings (every variable is one, and they start callagent: the settings validate),
the network (callagent on the host's network reaches PostgreSQL where it is
published), ``dialplan/`` (every file its README sends to ``/etc/asterisk/`` for an
SQLite CEL store is mounted there, and the prompts where Asterisk looks for them) and
the folders callagent reads from Asterisk (CEL store, recordings) shared by volume.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from callagent.config import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text("utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
# what a user exports before `docker compose up`, as docker/README.md says
USER_ENV = {"POSTGRES_PASSWORD": "pg-secret", "CALLAGENT_AMI_SECRET": "ami-secret"}
# another backend of the same CEL store: one is mounted, not both
OTHER_BACKEND = {"cel_pgsql.conf", "cel_pgsql.sql"}


def _interpolated(value: str) -> str:
    """Compose's ``${NAME}`` and ``${NAME:?message}`` with the user's variables."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in USER_ENV, f"{name} is not among the variables the README exports"
        return USER_ENV[name]

    return re.sub(r"\$\{([A-Z_]+)(?::\?[^}]*)?\}", one, value)


def _environment(service: str) -> dict[str, str]:
    raw = SERVICES[service].get("environment", {})
    return {name: _interpolated(str(value)) for name, value in raw.items()}


def _mounts(service: str) -> list[tuple[str, str, bool]]:
    """(source, target, read-only) of a service's volumes, short syntax."""
    found = []
    for entry in SERVICES[service].get("volumes", []):
        source, target, *mode = entry.split(":")
        found.append((source, target, mode == ["ro"]))
    return found


def _binds(service: str) -> dict[str, Path]:
    """Bind mounts: target -> the host path (relative to docker/)."""
    return {
        target: (DOCKER / source).resolve()
        for source, target, _ in _mounts(service)
        if source.startswith((".", "/"))
    }


def _volume_holding(service: str, path: str) -> str | None:
    """The named volume that ``path`` lies in, in ``service``."""
    for source, target, _ in _mounts(service):
        if not source.startswith((".", "/")) and PurePosixPath(path).is_relative_to(target):
            return source
    return None


def test_the_settings_start_callagent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    environment = _environment("callagent")
    known = {f"CALLAGENT_{name.upper()}" for name in Settings.model_fields}
    assert set(environment) <= known, set(environment) - known
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings()  # validates as `callagent serve` does at start
    assert settings.trunk_endpoints == ["PJSIP/trunk"]
    assert settings.ami_secret is not None
    assert settings.ami_secret.get_secret_value() == "ami-secret"


def test_callagent_reaches_postgresql_where_it_is_published() -> None:
    assert SERVICES["callagent"]["network_mode"] == "host"
    url = urlsplit(_environment("callagent")["CALLAGENT_DATABASE_URL"])
    published = SERVICES["postgres"].get("ports", [])
    assert f"{url.hostname}:{url.port}:5432" in published, published
    assert url.username == _environment("postgres")["POSTGRES_USER"]
    assert url.password == _environment("postgres")["POSTGRES_PASSWORD"]
    assert url.path.lstrip("/") == _environment("postgres")["POSTGRES_DB"]
    assert url.hostname == "127.0.0.1"  # never published beyond the host


def test_asterisk_gets_every_file_the_dialplan_readme_lists() -> None:
    readme = (ROOT / "dialplan" / "README.md").read_text("utf-8")
    wanted = {
        name: f"/etc/asterisk/{target}"
        for name, target in re.findall(
            r"^\| `([\w.]+)`.*?\| `/etc/asterisk/([\w.]+)`", readme, re.M
        )
    }
    assert {"extensions.conf", "manager.conf", "amd.conf", "cel.conf"} <= set(wanted)
    binds = _binds("asterisk")
    for name, target in wanted.items():
        if name in OTHER_BACKEND:
            continue
        assert target in binds, f"{name} is not mounted at {target}"
        assert binds[target] == ROOT / "dialplan" / name
    for path in binds.values():
        assert path.exists(), path


def test_the_prompts_are_where_asterisk_plays_them_from() -> None:
    sounds = ROOT / "src" / "callagent" / "prompts" / "sounds"
    languages = sorted(p.name for p in sounds.iterdir() if p.is_dir())
    assert languages == ["en", "ru", "uk"]
    binds = _binds("asterisk")
    for language in languages:
        target = f"/var/lib/asterisk/sounds/{language}/callagent"
        assert binds.get(target) == sounds / language / "callagent", target
        assert any(binds[target].glob("notify-*.ulaw"))
    played = set(
        re.findall(
            r"callagent/(notify-[\w-]+)", (ROOT / "dialplan" / "extensions.conf").read_text("utf-8")
        )
    )
    for name in played:
        assert (sounds / "ru" / "callagent" / f"{name}.ulaw").exists(), name


def test_what_callagent_reads_from_asterisk_is_shared() -> None:
    environment = _environment("callagent")
    cel = urlsplit(environment["CALLAGENT_CEL_URL"])
    assert cel.scheme == "sqlite"
    cel_file = "/" + cel.path.lstrip("/")
    conf = (ROOT / "dialplan" / "cel_sqlite3_custom.conf").read_text("utf-8")
    section = re.search(r"^\[(\w+)\]", conf, re.M)
    assert section is not None
    assert PurePosixPath(cel_file) == PurePosixPath("/var/log/asterisk") / f"{section[1]}.db"
    volume = _volume_holding("asterisk", cel_file)
    assert volume is not None and volume == _volume_holding("callagent", cel_file)
    recordings = environment["CALLAGENT_RECORDINGS_DIR"]
    assert environment["CALLAGENT_RECORDINGS_PBX_DIR"] == recordings
    volume = _volume_holding("asterisk", recordings)
    assert volume is not None and volume == _volume_holding("callagent", recordings)
    for source, _, _ in _mounts("callagent") + _mounts("asterisk") + _mounts("postgres"):
        if not source.startswith((".", "/")):
            assert source in COMPOSE["volumes"], source
