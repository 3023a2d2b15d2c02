"""The Asterisk side of FastAGI, as res_agi speaks it (``shared/pbx-traces/fastagi``).

Connects, sends the ``agi_*`` environment and a blank line, then answers each
command: ``SET VARIABLE`` with ``200 result=1``, ``GET VARIABLE`` with the
channel's value. Used by the PBX simulator and the tests. ``replay_recorded`` plays
one dialogue recorded from a real Asterisk (a connection of a ``.agi.jsonl`` file)
byte for byte instead.

``run_agi`` also answers ``SET MUSIC``, ``SAY NUMBER`` and ``NOOP`` with
``200 result=0``. When the caller hangs up (``AgiCall.hangup`` is set) while the
server sends nothing, it writes ``HANGUP`` at once, as res_agi does; afterwards the
commands that need a live channel get res_agi's ``511``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# Commands res_agi answers "200 result=0" (no digit pressed); of those, the ones it
# refuses once the channel hung up ("Runs Dead: No" in `agi show`) get its 511.
_ZERO = ("SET MUSIC", "SAY NUMBER", "NOOP")
_NOT_DEAD = ("SET MUSIC", "SAY NUMBER")
_DEAD = b"511 Command Not Permitted on a dead channel or intercepted channel\n"


@dataclass
class AgiCall:
    """One FastAGI request and what the server set."""

    script: str
    uniqueid: str
    channel: str = "PJSIP/trunk-00000001"
    callerid: str = "79261112233"
    calleridname: str = ""
    dnid: str = "4951112233"
    args: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)  # the channel's, for GET VARIABLE
    hangup_after_commands: int | None = None  # the caller hangs up after this many commands
    hangup: asyncio.Event | None = None  # set: the caller hangs up now
    commands: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # when each command came (loop time)
    set: dict[str, str] = field(default_factory=dict)
    music: bool = False  # music on hold playing (SET MUSIC ON until SET MUSIC OFF)
    hung_up: bool = False
    ended_at: float | None = None  # when the server closed (loop time)

    def environment(self, port: int) -> bytes:
        """The 24-line environment block Asterisk 22 sends, in its order."""
        lines = [
            ("agi_network", "yes"),
            ("agi_network_script", self.script),
            ("agi_request", f"agi://127.0.0.1:{port}/{self.script}"),
            ("agi_channel", self.channel),
            ("agi_language", "en"),
            ("agi_type", self.channel.split("/", 1)[0]),
            ("agi_uniqueid", self.uniqueid),
            ("agi_version", "22.10.1"),
            ("agi_callerid", self.callerid),
            ("agi_calleridname", self.calleridname or self.callerid),
            ("agi_callingpres", "0"),
            ("agi_callingani2", "0"),
            ("agi_callington", "0"),
            ("agi_callingtns", "0"),
            ("agi_dnid", self.dnid),
            ("agi_rdnis", "unknown"),
            ("agi_context", "from-trunk"),
            ("agi_extension", self.dnid),
            ("agi_priority", "7"),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", ""),
            ("agi_threadid", "140073274164928"),
        ]
        lines += [(f"agi_arg_{i}", arg) for i, arg in enumerate(self.args, start=1)]
        return "".join(f"{k}: {v}\n" for k, v in lines).encode() + b"\n"


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value.replace('\\"', '"').replace("\\\\", "\\")


async def run_agi(call: AgiCall, host: str, port: int, timeout: float = 10.0) -> AgiCall:
    """Play one FastAGI dialogue against a server; fill ``call.commands`` and ``call.set``."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(call.environment(port))
        await writer.drain()
        while True:
            async with asyncio.timeout(timeout):
                raw = await _next_line(call, reader, writer)
            if not raw:
                call.ended_at = loop.time()
                return call  # the server closed: the dialogue is over
            command = raw.decode().rstrip("\n")
            call.commands.append(command)
            call.times.append(loop.time())
            if (
                call.hangup_after_commands is not None
                and len(call.commands) > call.hangup_after_commands
                and not call.hung_up
            ):
                call.hung_up = True
                writer.write(b"HANGUP\n")
            verb, _, rest = command.partition(" VARIABLE ")
            if call.hung_up and command.startswith(_NOT_DEAD):
                writer.write(_DEAD)
            elif command.startswith(_ZERO):
                if command.startswith("SET MUSIC"):
                    call.music = command.split()[2].lower() == "on"
                writer.write(b"200 result=0\n")
            elif verb == "SET":
                name, _, value = rest.partition(" ")
                call.set[name] = _unquote(value)
                writer.write(b"200 result=1\n")
            elif verb == "GET":
                known = call.variables.get(rest.strip())
                writer.write(
                    f"200 result=1 ({known})\n".encode() if known is not None else b"200 result=0\n"
                )
            else:
                writer.write(b"510 Invalid or unknown command\n")
            await writer.drain()
    finally:
        writer.close()


async def _next_line(
    call: AgiCall, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bytes:
    """The server's next line; ``HANGUP`` goes out meanwhile if the caller hangs up."""
    if call.hangup is None or call.hung_up:
        return await reader.readline()
    line = asyncio.ensure_future(reader.readline())
    hangup = asyncio.ensure_future(call.hangup.wait())
    try:
        await asyncio.wait({line, hangup}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hangup.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hangup
        if not line.done():
            line.cancel()  # on a hangup (read again below) or the caller's timeout
            with contextlib.suppress(asyncio.CancelledError):
                await line
    if line.cancelled():
        call.hung_up = True
        writer.write(b"HANGUP\n")
        await writer.drain()
        return await reader.readline()
    return line.result()


async def replay_recorded(
    chunks: Sequence[Mapping[str, object]],
    host: str,
    port: int,
    timeout: float = 10.0,
    gates: Mapping[int, asyncio.Event] | None = None,
) -> list[str]:
    """Play Asterisk's side of one recorded FastAGI dialogue; the lines the server sent.

    ``chunks`` are one connection's lines of a ``.agi.jsonl`` recording
    (``{"dir": "asterisk>" | ">asterisk" | "note", "data": ...}``), in order: what
    Asterisk sent is written as it was recorded, and where the server spoke, as many
    lines are read from it as it sent then (its answer is not checked here: the
    caller compares the returned lines with the recording). ``gates``: chunk index ->
    an event awaited before that chunk is played (what Asterisk sent on its own later,
    such as the ``HANGUP`` of a caller who left, at the moment the test chooses).
    """
    reader, writer = await asyncio.open_connection(host, port)
    sent: list[str] = []
    try:
        for index, chunk in enumerate(chunks):
            data = str(chunk["data"])
            if gates is not None and index in gates:
                await gates[index].wait()
            if chunk["dir"] == "asterisk>":
                writer.write(data.encode())
                await writer.drain()
            elif chunk["dir"] == ">asterisk":
                for _ in range(data.count("\n")):
                    async with asyncio.timeout(timeout):
                        raw = await reader.readline()
                    if not raw:
                        return sent  # the server closed early
                    sent.append(raw.decode())
        async with asyncio.timeout(timeout):
            rest = await reader.read()  # the server ends the dialogue by closing
        if rest:
            sent.extend(rest.decode().splitlines(keepends=True))
    finally:
        writer.close()
    return sent
