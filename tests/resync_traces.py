"""Cutting the live recordings where callagent was away, for the resync tests.

The live ``.ami`` files are the recorder's own connection, open for the whole
scenario. callagent's connection began when callagent came back, so what it saw is
the frames stamped (``timestampevents = yes``) at or after that moment, byte for
byte, plus the answer to its ``CoreShowChannels``. The recorder did not send
``CoreShowChannels``: :func:`listing_at` builds that answer from the recorded
channel events, with the headers and formats of the recorded listing
(``coreshowchannels_midcall.ami``: Duration ``HH:MM:SS``, BridgeId, Application).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.sim.ami_server import trace_body
from callagent.sim.channels import ChannelTable
from tests.conftest import LIVE_TRACES

# The moments of live/README.md (UTC, 2026-12-03)
DAY = datetime(2026, 12, 3, tzinfo=UTC)


def at(clock: str) -> float:
    """``"19:04:23.037334"`` on the recordings' day, as epoch seconds."""
    hours, minutes, seconds = clock.split(":")
    return DAY.timestamp() + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def frames(body: bytes) -> list[bytes]:
    """Every frame of an AMI byte stream, each with its blank line."""
    out = []
    start = 0
    while start < len(body):
        end = body.find(b"\r\n\r\n", start)
        if end < 0:
            break
        out.append(body[start : end + 4])
        start = end + 4
    return out


def _stamp(frame: bytes) -> float | None:
    marker = b"\r\nTimestamp: "
    index = frame.find(marker)
    if index < 0:
        return None
    end = frame.find(b"\r\n", index + len(marker))
    return float(frame[index + len(marker) : end])


def live_body(name: str) -> bytes:
    """A live recording without its banner and login."""
    return trace_body((LIVE_TRACES / f"{name}.ami").read_bytes())


def after(name: str, cut: float) -> bytes:
    """The recorded frames stamped at or after ``cut``, byte for byte."""
    return b"".join(f for f in frames(live_body(name)) if (_stamp(f) or 0.0) >= cut)


def before(name: str, cut: float) -> bytes:
    """The recorded frames stamped before ``cut`` (unstamped ones, FullyBooted, too)."""
    return b"".join(f for f in frames(live_body(name)) if (_stamp(f) or 0.0) < cut)


def messages(data: bytes) -> list[AmiMessage]:
    """Parsed frames of an AMI byte stream (no banner)."""
    parser = AmiParser(expect_banner=False)
    return [m for m in parser.feed(data) if isinstance(m, AmiMessage)]


def listing_at(name: str, cut: float) -> list[dict[str, str]]:
    """The ``CoreShowChannel`` items Asterisk would have listed at ``cut``: the recorded
    events before ``cut`` followed by the simulator's :class:`ChannelTable` (each
    channel created and not hung up, its headers as its last event said them, its
    application, ``Duration`` since its ``Newchannel``, its bridge), newest first."""
    table = ChannelTable()
    for message in messages(before(name, cut)):
        table.apply(message)
    return table.listing(cut)


_CEL_COLUMNS = {  # the recorded cel_sqlite3_custom columns <- the AMI CEL event's headers
    "eventtype": "EventName",
    "cidname": "CallerIDname",
    "cidnum": "CallerIDnum",
    "cidani": "CallerIDani",
    "cidrdnis": "CallerIDrdnis",
    "ciddnid": "CallerIDdnid",
    "context": "Context",
    "exten": "Exten",
    "channame": "Channel",
    "appname": "Application",
    "appdata": "AppData",
    "accountcode": "AccountCode",
    "uniqueid": "UniqueID",
    "linkedid": "LinkedID",
    "userfield": "Userfield",
    "peer": "Peer",
    "eventextra": "Extra",
}


def cel_store_from_ami(name: str, cut: float, path: Path) -> Path:
    """A CEL file as ``cel_sqlite3_custom`` had written it by ``cut``.

    The PBX ran cel_manager and cel_sqlite3_custom side by side (live/README.md); the
    AMI ``CEL`` events of the recording are its rows. The table is created with the
    recorded file's own statement; ``eventtime`` is the AMI frame's Timestamp (the
    AMI ``EventTime`` has whole seconds only; the backend's own time is ~1-3 ms
    earlier: compare the two recordings of live_call_while_callagent_down_with_cel).
    """
    recorded = LIVE_TRACES / "live_call_while_callagent_down_with_cel.cel.sqlite3"
    with sqlite3.connect(recorded) as source:
        (create,) = source.execute("SELECT sql FROM sqlite_master WHERE name = 'cel'").fetchone()
    rows = []
    for m in messages(before(name, cut)):
        if m.event != "CEL":
            continue
        values = {column: m.get(header) for column, header in _CEL_COLUMNS.items()}
        values["eventtime"] = m.get("Timestamp")
        values["amaflags"] = "3"
        values["userdeftype"] = ""
        rows.append(values)
    with sqlite3.connect(path) as target:
        target.execute(create)
        columns = list(rows[0])
        target.executemany(
            f"INSERT INTO cel ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [tuple(r[c] for c in columns) for r in rows],
        )
    return path
