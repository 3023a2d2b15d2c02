"""The simulator's recordings: a short generated WAV where MixMonitor would have written.

A recorded call (``inbound_recorded``) tells callagent its file name in a
``MIXMONITOR_FILENAME`` VarSet, under Asterisk's monitor folder. The simulator writes a
few seconds of a two-tone signal there (under ``CALLAGENT_RECORDINGS_DIR``, as callagent
reads that folder) once the call is played, so the call page's player has something to
play in ``make run``.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from callagent.sim.scenarios import Template

RATE = 8000  # Asterisk records narrowband calls at 8 kHz, 16-bit mono


def recording_name(template: Template) -> str | None:
    """The file name the recorded call's MixMonitor got (as recorded), or None."""
    for frame in template.frames:
        if frame.event == "VarSet" and frame.get("Variable") == "MIXMONITOR_FILENAME":
            return frame.get("Value") or None
    return None


def tone_wav(seconds: float) -> bytes:
    """A WAV of ``seconds`` of alternating 440/660 Hz tones (one a second), quietly."""
    frames = bytearray()
    for index in range(int(seconds * RATE)):
        pitch = 440.0 if (index // RATE) % 2 == 0 else 660.0
        frames += struct.pack("<h", int(6000 * math.sin(2 * math.pi * pitch * index / RATE)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


@dataclass(frozen=True)
class RecordingSink:
    """Where the simulated recordings go: ``folder`` is ``pbx_dir`` as callagent sees it."""

    folder: Path
    pbx_dir: str = "/var/spool/asterisk/monitor"
    seconds: float = 6.0

    def write(self, stored_name: str) -> Path | None:
        """Write the recording named ``stored_name``; None when it is not under pbx_dir."""
        name = PurePosixPath(stored_name)
        if name.is_absolute():
            if not name.is_relative_to(self.pbx_dir):
                return None
            name = name.relative_to(self.pbx_dir)
        if ".." in name.parts:
            return None
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tone_wav(self.seconds))
        return path
