"""Where a call's recording lives, never outside the recordings folder (pure paths + stat).

The call record keeps MixMonitor's file name as Asterisk gave it: usually absolute under
Asterisk's monitor folder (``/var/spool/asterisk/monitor/1795354552.974.wav``), or
relative to it. callagent reads that folder as ``CALLAGENT_RECORDINGS_DIR`` (shared or
mounted), so the name is first made relative to ``CALLAGENT_RECORDINGS_PBX_DIR``; then
the joined path is resolved (symlinks followed) and must still lie inside the resolved
folder. A NUL, a ``..`` part, an absolute name elsewhere, or a symlink that leads out is
refused, whatever the file system holds.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from callagent.errors import ServiceError

MEDIA_TYPES = {
    ".wav": "audio/wav",
    ".wav49": "audio/wav",
    ".gsm": "audio/x-gsm",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
}


class RecordingError(ServiceError):
    """A recording that cannot be served; ``code`` names why for the page."""


def _outside(name: str) -> RecordingError:
    return RecordingError(
        404,
        "the call's recording is not inside the recordings folder (CALLAGENT_RECORDINGS_DIR), "
        "so it is not served",
        code="recording_outside",
    )


def relative_name(stored: str, pbx_dir: str) -> PurePosixPath:
    """The stored name relative to the recordings folder; RecordingError when it cannot be."""
    if not stored:
        raise RecordingError(404, "the call has no recording", code="recording_none")
    if "\x00" in stored or "\\" in stored:
        raise _outside(stored)
    path = PurePosixPath(stored)
    if path.is_absolute():
        base = PurePosixPath(pbx_dir or "/")
        if not base.is_absolute() or not path.is_relative_to(base):
            raise _outside(stored)
        path = path.relative_to(base)
    if not path.parts or ".." in path.parts:
        raise _outside(stored)
    return path


def locate(stored: str, *, folder: str, pbx_dir: str) -> Path:
    """The recording's real path, inside ``folder``; RecordingError (coded) otherwise."""
    name = relative_name(stored, pbx_dir)
    root = Path(folder).resolve()
    try:
        real = (root / name).resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise RecordingError(
            404,
            "the call's recording file is gone (deleted after the retention period, or "
            "never written)",
            code="recording_missing",
        ) from None
    except (OSError, RuntimeError):  # a symlink loop, a name too long
        raise _outside(stored) from None
    if not real.is_relative_to(root):
        raise _outside(stored)
    if not stat.S_ISREG(real.stat().st_mode):
        raise _outside(stored)
    return real


def media_type(path: Path) -> str:
    """The audio type the browser's player is told."""
    return MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")


@dataclass(frozen=True)
class Purge:
    """What a retention run deleted (or, dry, would delete)."""

    files: int
    bytes: int
    dry_run: bool


def purge(folder: str, *, older_than: datetime, dry_run: bool = False) -> Purge:
    """Delete regular files under ``folder`` last written before ``older_than``.

    Symlinks are neither followed nor deleted (what they point at is not ours), nor are
    folders; a file that vanishes meanwhile is skipped.
    """
    root = Path(folder)
    cutoff = older_than.timestamp()
    files = size = 0
    if not root.is_dir():
        return Purge(0, 0, dry_run)
    for top, _dirs, names in os.walk(root, followlinks=False):
        for name in names:
            path = Path(top) / name
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_mtime >= cutoff:
                continue
            if not dry_run:
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
            files += 1
            size += info.st_size
    return Purge(files, size, dry_run)
