"""Call recordings' files (issue #13): a stored name resolves inside the recordings folder
or is refused (``..``, absolute names elsewhere, NUL, symlinks out), and retention deletes
old files (``callagent recordings purge`` as a real process, dry run, JSON)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from callagent.recordings.files import RecordingError, locate, purge, relative_name

PBX_DIR = "/var/spool/asterisk/monitor"


def code_of(call: Any) -> str:
    with pytest.raises(RecordingError) as caught:
        call()
    return caught.value.code


# ----------------------------------------------------------------- the safe path


def test_names_inside_the_folder_are_found(tmp_path: Path) -> None:
    (tmp_path / "2026" / "12").mkdir(parents=True)
    (tmp_path / "2026" / "12" / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "b.wav").write_bytes(b"RIFF")
    found = locate(f"{PBX_DIR}/2026/12/a.wav", folder=str(tmp_path), pbx_dir=PBX_DIR)
    assert found == (tmp_path / "2026" / "12" / "a.wav").resolve()
    assert locate("b.wav", folder=str(tmp_path), pbx_dir=PBX_DIR).name == "b.wav"
    assert code_of(lambda: locate("gone.wav", folder=str(tmp_path), pbx_dir=PBX_DIR)) == (
        "recording_missing"
    )
    assert code_of(lambda: locate("", folder=str(tmp_path), pbx_dir=PBX_DIR)) == "recording_none"


@pytest.mark.parametrize(
    "stored",
    [
        "../secret.wav",
        "a/../../secret.wav",
        f"{PBX_DIR}/../secret.wav",
        "/etc/passwd",
        "/var/spool/asterisk/monitorX/a.wav",  # only a prefix of the folder's name
        "a.wav\x00.txt",
        "..\\secret.wav",
    ],
)
def test_names_leading_out_are_refused(tmp_path: Path, stored: str) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    (tmp_path / "secret.wav").write_bytes(b"secret")
    (folder / "a.wav").write_bytes(b"RIFF")
    assert code_of(lambda: locate(stored, folder=str(folder), pbx_dir=PBX_DIR)) == (
        "recording_outside"
    )


def test_a_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    (tmp_path / "secret.wav").write_bytes(b"secret")
    (folder / "link.wav").symlink_to(tmp_path / "secret.wav")
    (folder / "sub").symlink_to(tmp_path)  # a folder link out, too
    (folder / "loop.wav").symlink_to(folder / "loop.wav")
    (folder / "inside.wav").write_bytes(b"RIFF")
    (folder / "alias.wav").symlink_to(folder / "inside.wav")  # inside: allowed
    for stored in ("link.wav", "sub/secret.wav", "loop.wav", "."):
        assert code_of(lambda s=stored: locate(s, folder=str(folder), pbx_dir=PBX_DIR)) == (
            "recording_outside"
        ), stored
    assert locate("alias.wav", folder=str(folder), pbx_dir=PBX_DIR).name == "inside.wav"
    assert relative_name(f"{PBX_DIR}/x/y.wav", PBX_DIR).as_posix() == "x/y.wav"


# ------------------------------------------------------------------- retention


def _aged(path: Path, days: float, size: int = 100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))


def test_retention_deletes_old_files_and_says_how_many(tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    _aged(folder / "old1.wav", 40, 1000)
    _aged(folder / "2026" / "old2.wav", 31, 500)
    _aged(folder / "new.wav", 5, 700)
    outside = tmp_path / "precious.wav"
    _aged(outside, 400)
    (folder / "link.wav").symlink_to(outside)  # neither followed nor deleted
    env = {
        **os.environ,
        "CALLAGENT_RECORDINGS_DIR": str(folder),
        "CALLAGENT_RECORDINGS_RETENTION_DAYS": "30",
        "CALLAGENT_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
    }
    command = [sys.executable, "-m", "callagent", "recordings", "purge"]
    dry = subprocess.run([*command, "--dry-run"], env=env, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "would delete 2 recording(s), 1500 bytes" in dry.stdout
    assert (folder / "old1.wav").exists()
    done = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert '"files": 2, "bytes": 1500, "dry_run": false' in done.stdout
    assert sorted(p.name for p in folder.rglob("*")) == ["2026", "link.wav", "new.wav"]
    assert outside.exists()
    again = purge(str(folder), older_than=datetime.now().astimezone())
    assert (again.files, again.bytes) == (1, 700)  # everything written before now
    none = subprocess.run(
        command,
        env={**env, "CALLAGENT_RECORDINGS_RETENTION_DAYS": "0"},
        capture_output=True,
        text=True,
    )
    assert none.returncode == 2 and "no retention" in none.stderr
