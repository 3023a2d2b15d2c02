"""docker/compose.yaml read as a user's `docker compose up` would (issue #16, Deployment).

No Docker engine runs here, so the file is checked against what it names: callagent's
settings (every variable of each of the two instances is one, and they start
callagent: the settings validate; names, HTTP and FastAGI ports distinct), the network
(callagent on the host's network reaches PostgreSQL where it is published),
``dialplan/`` (every file its README sends to ``/etc/asterisk/`` for an SQLite CEL
store is mounted there, and the prompts where Asterisk looks for them; every bind
mount's source exists), the dialplan's [globals] (``route`` asks instance a, then b;
the node's name is the instances') and the folders callagent reads from Asterisk (CEL
store, recordings) shared by volume.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from callagent.config import Settings
from tests.test_dialplan_files import dialplan

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text("utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
# what a user exports before `docker compose up`, as docker/README.md says
USER_ENV = {"POSTGRES_PASSWORD": "pg-secret", "CALLAGENT_AMI_SECRET": "ami-secret"}
# another backend of the same CEL store: one is mounted, not both
OTHER_BACKEND = {"cel_pgsql.conf", "cel_pgsql.sql"}
# the callagent services: those that name a database
INSTANCES = [n for n, s in SERVICES.items() if "CALLAGENT_DATABASE_URL" in s.get("environment", {})]


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


def _settings(service: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings ``service`` starts with (every variable a setting; they validate)."""
    environment = _environment(service)
    known = {f"CALLAGENT_{name.upper()}" for name in Settings.model_fields}
    assert set(environment) <= known, (service, set(environment) - known)
    with monkeypatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("CALLAGENT_"):
                patch.delenv(name)
        for name, value in environment.items():
            patch.setenv(name, value)
        return Settings()  # validates as `callagent serve` does at start


@pytest.mark.parametrize("service", INSTANCES)
def test_the_settings_start_callagent(
    service: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    settings = _settings(service, monkeypatch)
    assert settings.trunk_endpoints == ["PJSIP/trunk"]
    assert settings.ami_secret is not None
    assert settings.ami_secret.get_secret_value() == "ami-secret"
    assert settings.database_url.startswith("postgresql://")  # several instances need it
    assert settings.instance_id


def test_two_instances_with_their_own_names_and_ports(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert INSTANCES == ["callagent", "callagent-b"]
    each = [_settings(service, monkeypatch) for service in INSTANCES]
    assert len({s.instance_id for s in each}) == 2
    # one host network: every port a process listens on is its own
    ports = [p for s in each for p in (s.http_port, s.agi_port)]
    assert len(set(ports)) == len(ports) and not {5038, 5060, 5432} & set(ports), ports
    assert all(s.http_host == s.agi_host == "127.0.0.1" for s in each)
    # the same database and the same nodes: one deployment
    assert len({s.database_url for s in each}) == 1
    assert len({tuple(n.name for n in s.ami_nodes) for s in each}) == 1
    # the second starts once the first is healthy (never two migrations at once), and
    # the first's health check asks its own HTTP port
    b = SERVICES["callagent-b"]
    assert b["depends_on"] == {"callagent": {"condition": "service_healthy"}}
    check = " ".join(SERVICES["callagent"]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{each[0].http_port}/healthz" in check
    for service in INSTANCES:
        assert SERVICES[service]["network_mode"] == "host"
        assert SERVICES[service]["restart"] == "unless-stopped"


def test_the_dialplan_asks_the_first_instance_then_the_second(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """callagent_globals.conf, mounted where extensions.conf's [globals] includes it:
    ``route`` asks a, then b; the node's name is the one the instances give it."""
    monkeypatch.chdir(tmp_path)
    binds = _binds("asterisk")
    overrides = binds["/etc/asterisk/callagent_globals.conf"]
    extensions = binds["/etc/asterisk/extensions.conf"].read_text("utf-8")
    # the #tryinclude is inside [globals] (before the next section), after its values
    in_globals = extensions.split("[globals]", 1)[1].split("\n[", 1)[0]
    assert re.search(r"^#tryinclude callagent_globals\.conf$", in_globals, re.M)
    globals_ = dialplan()[0]
    values = {}
    for raw in overrides.read_text("utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    assert set(values) <= set(globals_), set(values) - set(globals_)
    each = [_settings(service, monkeypatch) for service in INSTANCES]
    addresses = [f"agi://127.0.0.1:{s.agi_port}" for s in each]
    assert values["CALLAGENT_AGI"] == addresses[0]
    assert values["CALLAGENT_AGI_MORE"].split("^") == addresses[1:]
    assert values["CALLAGENT_NODE"] == each[0].ami_nodes[0].name


def test_callagent_reaches_postgresql_where_it_is_published() -> None:
    for service in INSTANCES:
        _reaches_postgresql(service)


def _reaches_postgresql(service: str) -> None:
    assert SERVICES[service]["network_mode"] == "host"
    url = urlsplit(_environment(service)["CALLAGENT_DATABASE_URL"])
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
    # every bind mount of every service is a file of the checkout: ../dialplan, the
    # package (the prompts) or this folder (the [globals] overrides)
    homes = (ROOT / "dialplan", ROOT / "src" / "callagent", DOCKER)
    for service in SERVICES:
        for path in _binds(service).values():
            assert path.exists(), (service, path)
            assert any(path.is_relative_to(home) for home in homes), (service, path)


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


@pytest.mark.parametrize("service", INSTANCES)
def test_what_callagent_reads_from_asterisk_is_shared(service: str) -> None:
    environment = _environment(service)
    cel = urlsplit(environment["CALLAGENT_CEL_URL"])
    assert cel.scheme == "sqlite"
    cel_file = "/" + cel.path.lstrip("/")
    conf = (ROOT / "dialplan" / "cel_sqlite3_custom.conf").read_text("utf-8")
    section = re.search(r"^\[(\w+)\]", conf, re.M)
    assert section is not None
    assert PurePosixPath(cel_file) == PurePosixPath("/var/log/asterisk") / f"{section[1]}.db"
    volume = _volume_holding("asterisk", cel_file)
    assert volume is not None and volume == _volume_holding(service, cel_file)
    recordings = environment["CALLAGENT_RECORDINGS_DIR"]
    assert environment["CALLAGENT_RECORDINGS_PBX_DIR"] == recordings
    volume = _volume_holding("asterisk", recordings)
    assert volume is not None and volume == _volume_holding(service, recordings)
    for source, _, _ in [m for name in SERVICES for m in _mounts(name)]:
        if not source.startswith((".", "/")):
            assert source in COMPOSE["volumes"], source
