"""callagent installed from its wheel, not from the checkout (issue #17 point 10).

The wheel is built from a copy of the sources, installed into a fresh venv (its
dependencies come from the project's venv through a ``.pth`` line, so nothing is
downloaded), and its ``callagent migrate`` and ``callagent serve`` are run from a folder
that is not the checkout: they must find the migrations, templates, static files, forms,
prompts and the simulator's traces inside the installed package.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from callagent.db.session import head_revision

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "migrations", "src")

pytestmark = pytest.mark.slow


def _build_wheel(tmp_path: Path) -> Path:
    """``pip wheel`` from a copy of the sources (an in-tree build would leave build/)."""
    tree = tmp_path / "tree"
    tree.mkdir()
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=junk)
        else:
            shutil.copy2(source, tree / name)
    dist = tmp_path / "dist"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"),
            *("--no-build-isolation", "--wheel-dir", str(dist), str(tree)),
        ],
        check=True,
        timeout=120,
    )
    (wheel,) = dist.glob("callagent-*.whl")
    return wheel


def _fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed and the project venv's packages visible."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # A path line adds the project's site-packages after the venv's own, without running
    # its .pth files: the checkout's editable callagent stays out of sight.
    deps = Path(httpx.__file__).resolve().parents[1]
    (Path(purelib) / "project_dependencies.pth").write_text(f"{deps}\n")
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--no-deps", "--no-index", str(wheel)),
        ],
        check=True,
        timeout=120,
    )
    return venv


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALLAGENT_", "PYTHON"))}
    env.update(values)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_wheel_ships_every_file_of_the_package(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "src/callagent", "migrations"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert tracked, "no git checkout to compare with"
    expected = {
        name.removeprefix("src/") if name.startswith("src/") else f"callagent/{name}"
        for name in tracked
    }
    assert expected - names == set()
    assert "callagent/migrations/env.py" in names
    assert "callagent/web/templates/login.html" in names


def test_migrate_and_serve_from_a_fresh_venv(tmp_path: Path) -> None:
    started = time.monotonic()
    venv = _fresh_venv(tmp_path, _build_wheel(tmp_path))
    bin_dir = venv / "bin"
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import callagent; print(callagent.__file__)"],
        cwd=tmp_path,
        env=_env(tmp_path),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert where.startswith(str(venv)), where  # the installed copy, not the checkout

    run_dir = tmp_path / "run"  # not the checkout: no migrations/ beside it
    run_dir.mkdir()
    database = run_dir / "callagent.db"
    port = _free_port()
    env = _env(
        tmp_path,
        CALLAGENT_DATABASE_URL=f"sqlite:///{database}",
        CALLAGENT_HTTP_PORT=str(port),
        CALLAGENT_AGI_PORT="0",  # the built-in simulator (the demo) dials it
    )
    migrate = subprocess.run(
        [str(bin_dir / "callagent"), "migrate"],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrate.returncode == 0, migrate.stderr
    with sqlite3.connect(database) as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision == head_revision()

    log = (run_dir / "serve.log").open("w")
    serve = subprocess.Popen(
        [str(bin_dir / "callagent"), "serve"],
        cwd=run_dir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5) as client:
            deadline = time.monotonic() + 30
            while True:
                assert serve.poll() is None, (run_dir / "serve.log").read_text()
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "no /healthz within 30 s"
                time.sleep(0.2)
            # the packaged templates, static files, API docs assets and forms answer
            assert "password" in client.get("/operator/login").text
            assert client.get("/static/operator.js").status_code == 200
            assert client.get("/static/api-docs/swagger-ui-bundle.js").status_code == 200
            assert client.get("/docs").status_code == 200
            # ready: the demo PBX (its traces from the package) is connected over AMI
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, client.get("/readyz").text
                time.sleep(0.2)
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(15)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait(5)
        log.close()
    assert time.monotonic() - started < 60
