"""A small Asterisk Manager Interface server, speaking real AMI bytes over TCP.

It stands in for Asterisk where no Asterisk can run (tests, demos): banner,
Login, Ping/Pong, Logoff, the resync listings (CoreShowChannels,
DeviceStateList, PJSIPShowContacts) in the formats recorded from Asterisk 22
(``shared/pbx-traces/coreshowchannels_midcall.ami``; CoreShowChannels lists the
channels that the events it sent left open, ``sim/channels.py``), app_queue's QueueStatus and
QueuePause for the queues in ``queues`` (``sim/queues.py``), an Asterisk restart, and
a byte stream to play to the client, such as a recorded trace, byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.sim.channels import ChannelTable
from callagent.sim.queues import SimQueue

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def frame(*pairs: tuple[str, str]) -> bytes:
    """Encode one AMI frame (CRLF lines, blank line at the end)."""
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in pairs) + b"\r\n"


def trace_body(trace: bytes) -> bytes:
    """A recorded trace without its banner and login response: what follows the login."""
    marker = b"Message: Authentication accepted\r\n\r\n"
    index = trace.find(marker)
    return trace[index + len(marker) :] if index >= 0 else trace


@dataclass
class ServerConnection:
    """One client connected to the simulator."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    logged_in: bool = False
    answer: bool = True  # False: read actions but answer nothing (a half-open link)
    actions: list[AmiMessage] = field(default_factory=list)

    async def send(self, data: bytes, chunk: int | None = None, pause: float = 0.0) -> None:
        """Write bytes to the client, optionally in chunks of ``chunk`` bytes."""
        if chunk is None:
            self.writer.write(data)
            await self.writer.drain()
            return
        for start in range(0, len(data), chunk):
            self.writer.write(data[start : start + chunk])
            await self.writer.drain()
            if pause:
                await asyncio.sleep(pause)


class AmiServer:
    """The AMI side of the PBX simulator."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "callagent",
        secret: str = "callagent-secret",  # noqa: S107 - the simulator's own login
        fully_booted: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.secret = secret
        self.fully_booted = fully_booted
        self.connections: list[ServerConnection] = []
        self._actions: list[AmiMessage] = []  # every connection's, as they arrived
        # The simulated calls' channels, followed from every event broadcast (a call
        # still going when callagent reconnects is listed, as Asterisk would).
        self.channels = ChannelTable()
        # Every device's last broadcast state: what DeviceStateList lists.
        self.device_states: dict[str, str] = {}
        self._channel_parser = AmiParser(expect_banner=False)
        self._listed: list[dict[str, str]] | None = None
        self.queues: dict[str, SimQueue] = {}  # app_queue: QueueStatus, QueuePause
        self.uptime_since = time.time()  # FullyBooted's Uptime counts from here
        self.silent_actions: set[str] = set()  # actions received but never answered
        # Originate -> response frames; set by sim/outbound.py's OutboundPbx.
        self.originate_handler: Callable[[ServerConnection, AmiMessage], list[bytes]] | None = None
        self._server: asyncio.Server | None = None
        self._new_connection = asyncio.Condition()

    @property
    def live_channels(self) -> list[dict[str, str]]:
        """What ``CoreShowChannels`` lists: the channels the broadcast events left open,
        or the items a test set (a recorded trace played on one connection)."""
        if self._listed is not None:
            return self._listed
        return self.channels.listing(time.time())

    @live_channels.setter
    def live_channels(self, items: list[dict[str, str]]) -> None:
        self._listed = items

    @property
    def actions(self) -> list[AmiMessage]:
        """Every action received, over all connections, in the order they arrived."""
        return self._actions

    async def broadcast(self, data: bytes) -> None:
        """Write events to every logged-in client (Asterisk sends events to all of them)."""
        for item in self._channel_parser.feed(data):
            if isinstance(item, AmiMessage):
                self.channels.apply(item)
                if item.event == "DeviceStateChange" and not item.get("ActionID"):
                    self.device_states[item.get("Device")] = item.get("State")
        for conn in list(self.connections):
            if conn.logged_in and not conn.writer.is_closing():
                conn.writer.write(data)
                with contextlib.suppress(ConnectionError):
                    await conn.writer.drain()

    def pause_member(
        self, interface: str, paused: bool, reason: str, queue: str = ""
    ) -> bytes | None:
        """Pause or unpause ``interface`` in ``queue`` (every queue: ""), as the action
        or the CLI's ``queue pause member`` does; the events, or None if no member."""
        events = [
            q.pause(interface, paused, reason)
            for q in self.queues.values()
            if not queue or q.name == queue
        ]
        found = [e for e in events if e is not None]
        return b"".join(found) if found else None

    async def restart(self) -> None:
        """Asterisk restarts: every session is dropped, queue pauses are forgotten.

        Clients reconnect and log in to a fresh Asterisk (FullyBooted, Uptime from 0).
        Before closing, Asterisk says so (``asterisk_restart_midcall.ami``).
        """
        await self.broadcast(
            frame(
                ("Event", "Shutdown"),
                ("Privilege", "system,all"),
                ("Timestamp", f"{time.time():.6f}"),
                ("Shutdown", "Cleanly"),
                ("Restart", "True"),
            )
        )
        for conn in list(self.connections):
            conn.writer.close()
        for queue in self.queues.values():
            queue.restart()
        self.channels.clear()  # a restart hangs up every channel
        self.uptime_since = time.time()

    def _fully_booted(self) -> bytes:
        return frame(
            ("Event", "FullyBooted"),
            ("Privilege", "system,all"),
            ("Uptime", str(self._uptime())),
            ("LastReload", str(self._uptime())),
            ("Status", "Fully Booted"),
        )

    async def send_fully_booted(self) -> None:
        """Send FullyBooted to every session (Asterisk finished booting after a login)."""
        await self.broadcast(self._fully_booted())

    def _uptime(self) -> int:
        return int(time.time() - self.uptime_since)

    async def start(self) -> None:
        """Listen; ``self.port`` is the real port afterwards."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        for conn in self.connections:
            conn.writer.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def connection(self, index: int, timeout: float = 10.0) -> ServerConnection:
        """Wait until the ``index``-th client (0-based) has logged in."""

        def ready() -> bool:
            return len(self.connections) > index and self.connections[index].logged_in

        async with self._new_connection:
            await asyncio.wait_for(self._new_connection.wait_for(ready), timeout)
        return self.connections[index]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = ServerConnection(reader, writer)
        self.connections.append(conn)
        parser = AmiParser(expect_banner=False)  # a client sends no banner
        try:
            writer.write(BANNER)
            await writer.drain()
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for item in parser.feed(data):
                    if isinstance(item, AmiMessage) and item.action:
                        conn.actions.append(item)
                        self._actions.append(item)
                        if conn.answer:
                            await self._answer(conn, item)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _answer(self, conn: ServerConnection, action: AmiMessage) -> None:
        name = action.action.lower()
        aid = ("ActionID", action.action_id)
        out: list[bytes] = []
        if name in self.silent_actions:
            return
        if name == "login":
            if action.get("Username") == self.username and action.get("Secret") == self.secret:
                out.append(
                    frame(("Response", "Success"), aid, ("Message", "Authentication accepted"))
                )
                if self.fully_booted:
                    out.append(self._fully_booted())
                conn.writer.write(b"".join(out))
                await conn.writer.drain()
                conn.logged_in = True
                async with self._new_connection:
                    self._new_connection.notify_all()
                return
            out.append(frame(("Response", "Error"), aid, ("Message", "Authentication failed")))
        elif name == "ping":
            out.append(frame(("Response", "Success"), aid, ("Ping", "Pong"), ("Timestamp", "0")))
        elif name == "logoff":
            out.append(frame(("Response", "Goodbye"), aid, ("Message", "Thanks for all the fish.")))
        elif name == "coreshowchannels":
            out.append(
                frame(
                    ("Response", "Success"),
                    aid,
                    ("EventList", "start"),
                    ("Message", "Channels will follow"),
                )
            )
            open_channels = self.live_channels
            for channel in open_channels:
                out.append(frame(("Event", "CoreShowChannel"), aid, *channel.items()))
            out.append(
                frame(
                    ("Event", "CoreShowChannelsComplete"),
                    aid,
                    ("EventList", "Complete"),
                    ("ListItems", str(len(open_channels))),
                )
            )
        elif name == "devicestatelist":
            out.append(
                frame(
                    ("Response", "Success"),
                    aid,
                    ("EventList", "start"),
                    ("Message", "Device State Changes will follow"),
                )
            )
            # as coreshowchannels_midcall.ami records them
            for device, state in self.device_states.items():
                out.append(
                    frame(("Event", "DeviceStateChange"), aid, ("Device", device), ("State", state))
                )
            out.append(
                frame(
                    ("Event", "DeviceStateListComplete"),
                    aid,
                    ("EventList", "Complete"),
                    ("ListItems", str(len(self.device_states))),
                )
            )
        elif name == "queuestatus":
            out.append(
                frame(
                    ("Response", "Success"),
                    aid,
                    ("EventList", "start"),
                    ("Message", "Queue status will follow"),
                )
            )
            wanted = action.get("Queue")
            queues = [q for q in self.queues.values() if not wanted or q.name == wanted]
            for queue in queues:
                out.append(queue.status_frames(action.action_id, action.get("Member")))
            listed = sum(
                1 + sum(1 for m in q.members if action.get("Member") in ("", m.interface))
                for q in queues
            )
            out.append(
                frame(
                    ("Event", "QueueStatusComplete"),
                    aid,
                    ("EventList", "Complete"),
                    ("ListItems", str(listed)),
                )
            )
        elif name == "queuepause":
            paused = action.get("Paused").lower() in ("true", "1", "yes")
            events = self.pause_member(
                action.get("Interface"), paused, action.get("Reason"), action.get("Queue")
            )
            if events is None:
                out.append(frame(("Response", "Error"), aid, ("Message", "Interface not found")))
            else:
                word = "paused" if paused else "unpaused"
                out.append(
                    frame(
                        ("Response", "Success"), aid, ("Message", f"Interface {word} successfully")
                    )
                )
                conn.writer.write(b"".join(out))
                await conn.writer.drain()
                await self.broadcast(events)  # every session with the agent class sees them
                return
        elif name == "pjsipshowcontacts":
            out.append(frame(("Response", "Error"), aid, ("Message", "No Contacts found")))
        elif name == "originate" and self.originate_handler is not None:
            out.extend(self.originate_handler(conn, action))
        else:
            out.append(
                frame(("Response", "Success"), aid, ("Message", f"{action.action} accepted"))
            )
        conn.writer.write(b"".join(out))
        await conn.writer.drain()
