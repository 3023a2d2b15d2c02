"""A live AMI connection through panoramisk 1.4, with its pitfalls closed.

panoramisk's ``Manager`` still does what it does well (actions, ActionIDs,
futures, list responses), but callagent owns the parts 1.4 gets wrong:

1. bytes are parsed by our sans-IO :class:`AmiParser` (1.4 decodes every TCP
   chunk on its own with ``errors='ignore'``: a Cyrillic name split between two
   reads loses letters);
2. an exception in an event callback is logged and counted (in 1.4 it unwinds
   through ``data_received`` and drops the connection);
3. keep-alive pings wait for their pong and close a half-open connection
   (1.4 sends ``Ping`` and never looks at the answer);
4. actions still unanswered when the connection drops fail with
   :class:`AmiConnectionLost` (1.4 queues them and sends them again after the
   reconnect: an ``Originate`` would dial the applicant twice);
5. reconnects back off exponentially, with a connect timeout (1.4: a fixed delay).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from callagent.ami.parser import AmiMessage, AmiParser, MalformedFrame
from callagent.config import AmiNode, Settings

log = logging.getLogger(__name__)

EventCallback = Callable[[str, AmiMessage], None]


class AmiConnectionLost(ConnectionError):
    """The connection dropped before Asterisk answered this action; it was not re-sent."""


class AmiLoginError(RuntimeError):
    """Asterisk refused the login."""


def _response_headers(item: AmiMessage) -> dict[str, Any]:
    """Headers of a frame answering an action, with every value of a repeated one
    (``Status``'s ``Variable: NAME=VALUE`` lines) as a list, as panoramisk keeps them."""
    headers: dict[str, Any] = dict(item.headers)
    for key in ("Variable", "ChanVariable"):
        values = item.getall(key)
        if len(values) > 1:
            headers[key] = values
    return headers


class CallagentAmiProtocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol with callagent's parser and error isolation."""

    closed: bool

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.parser = AmiParser()
        self.last_received = time.monotonic()

    def data_received(self, data: bytes) -> None:
        self.last_received = time.monotonic()
        factory = self.factory
        for item in self.parser.feed(data):
            if isinstance(item, MalformedFrame):
                factory.on_malformed(item)
                continue
            action_id = item.headers.get("ActionID")
            if action_id and action_id in self.responses:
                try:
                    self.handle_message(Message(_response_headers(item)))
                except Exception:
                    log.exception("error while completing AMI action %s", action_id)
            if "Event" in item.headers:
                factory.deliver_event(item)

    def close(self) -> None:
        # Never queue unanswered actions for a later connection: fail them.
        pending = list(self.responses.values())
        self.responses.clear()
        for action in pending:
            future = action.future
            if not future.done():
                future.set_exception(
                    AmiConnectionLost(
                        f"connection lost before Asterisk answered {action['Action']!r} "
                        f"(ActionID {action.action_id}); it was not sent again"
                    )
                )
                future.exception()  # mark retrieved: the caller may be gone
        if not self.closed:
            try:
                self.transport.close()
            finally:
                self.closed = True


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager, driven by :class:`AmiClient` instead of its own timers."""

    def __init__(self, client: AmiClient, **config: Any) -> None:
        super().__init__(**config)
        self.client = client
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def deliver_event(self, message: AmiMessage) -> None:
        self.client.deliver_event(message)

    def on_malformed(self, frame: MalformedFrame) -> None:
        self.client.on_malformed(frame)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._connected = False
        if not self.lost.done():
            self.lost.set_result(None)

    async def send_awaiting_actions(self, *_: Any) -> None:
        """Disabled: an action is sent once or fails (pitfall 4 of panoramisk 1.4)."""

    def ping(self) -> None:
        """Disabled: :meth:`AmiClient._keepalive` pings and waits for the pong."""


class AmiClient:
    """Follows one Asterisk node for as long as the service runs."""

    def __init__(
        self,
        node: AmiNode,
        *,
        on_event: EventCallback,
        on_connected: Callable[[AmiClient], Awaitable[None]] | None = None,
        on_disconnected: Callable[[AmiClient], None] | None = None,
        ping_interval: float = 10.0,
        ping_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        max_frame_bytes: int = 1_048_576,
        events: bool = True,
    ) -> None:
        self.node = node
        # False: log in with ``Events: off`` (a session only for actions: Asterisk sends
        # it none of the node's events)
        self.events = events
        self.on_event = on_event
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.connect_timeout = connect_timeout
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.max_frame_bytes = max_frame_bytes
        self.connected = False
        self.events_received = 0
        self.events_malformed = 0
        self.callback_errors = 0
        self.reconnects = 0
        self.sessions = 0
        self.last_error: str | None = None
        self._manager: _Manager | None = None
        self._stopping = False

    @classmethod
    def from_settings(
        cls,
        node: AmiNode,
        settings: Settings,
        *,
        on_event: EventCallback,
        on_connected: Callable[[AmiClient], Awaitable[None]] | None = None,
    ) -> AmiClient:
        """A client with the keep-alive, timeouts and back-off of ``settings``."""
        return cls(
            node,
            on_event=on_event,
            on_connected=on_connected,
            ping_interval=settings.ami_ping_interval,
            ping_timeout=settings.ami_ping_timeout,
            connect_timeout=settings.ami_connect_timeout,
            reconnect_min=settings.ami_reconnect_min,
            reconnect_max=settings.ami_reconnect_max,
            max_frame_bytes=settings.ami_max_frame_bytes,
        )

    # -------------------------------------------------------------- events

    def deliver_event(self, message: AmiMessage) -> None:
        """Hand one event to the callback; its errors never reach the connection."""
        self.events_received += 1
        try:
            self.on_event(self.node.name, message)
        except Exception:
            self.callback_errors += 1
            log.exception(
                "AMI event %s from node %s could not be processed; the connection goes on",
                message.event,
                self.node.name,
            )

    def on_malformed(self, frame: MalformedFrame) -> None:
        """Count and log a dropped frame (the stream goes on)."""
        self.events_malformed += 1
        log.warning(
            "malformed AMI frame from node %s skipped: %s (starts %r)",
            self.node.name,
            frame.reason,
            frame.excerpt[:40],
        )

    # ------------------------------------------------------------- actions

    async def send_action(
        self, action: dict[str, Any], *, as_list: bool | None = None, timeout: float = 10.0
    ) -> Any:
        """Send an action once; return its response (or list of responses).

        Raises :class:`AmiConnectionLost` if the connection drops first and
        :class:`TimeoutError` when Asterisk does not answer in time. Never re-sent.
        """
        manager = self._manager
        if (
            manager is None
            or not self.connected
            or manager.protocol is None
            or manager.protocol.closed
            or manager.lost.done()
        ):
            raise AmiConnectionLost(f"AMI node {self.node.name} is not connected")
        future = manager.send_action(Action(action, as_list=as_list), as_list=as_list)
        return await asyncio.wait_for(asyncio.shield(future), timeout)

    # ----------------------------------------------------------- lifecycle

    async def run(self) -> None:
        """Connect, log in, resync, keep alive; reconnect with back-off. Forever."""
        delay = self.reconnect_min
        while not self._stopping:
            started = time.monotonic()
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except AmiLoginError as exc:
                self.last_error = str(exc)
                log.error("%s", exc)
            except (OSError, TimeoutError, AmiConnectionLost) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "AMI node %s (%s:%s) unreachable: %s",
                    self.node.name,
                    self.node.host,
                    self.node.port,
                    self.last_error,
                )
            finally:
                self._close_session()
            if self._stopping:
                break
            if time.monotonic() - started > 10 * self.reconnect_max:
                delay = self.reconnect_min  # it was up for a long while: start over
            wait = delay * random.uniform(0.8, 1.2)
            log.info("reconnecting to AMI node %s in %.1f s", self.node.name, wait)
            await asyncio.sleep(wait)
            self.reconnects += 1
            delay = min(delay * 2, self.reconnect_max)

    async def _session(self) -> None:
        loop = asyncio.get_running_loop()
        node = self.node
        manager = _Manager(
            self,
            host=node.host,
            port=node.port,
            loop=loop,
            ping_delay=10**9,
            reconnect_timeout=10**9,
            protocol_factory=CallagentAmiProtocol,
        )
        self._manager = manager
        transport, protocol = await asyncio.wait_for(
            loop.create_connection(CallagentAmiProtocol, node.host, node.port),
            self.connect_timeout,
        )
        protocol.parser.max_frame_bytes = self.max_frame_bytes
        ready: asyncio.Future[tuple[Any, Any]] = loop.create_future()
        ready.set_result((transport, protocol))
        manager.connection_made(ready)  # panoramisk wires the protocol to the manager
        if manager.pinger is not None:
            manager.pinger.cancel()
            manager.pinger = None
        login = manager.send_action(
            {
                "Action": "Login",
                "Username": node.username,
                "Secret": node.secret.get_secret_value(),
                "Events": "on" if self.events else "off",
            }
        )
        response = await asyncio.wait_for(asyncio.shield(login), self.connect_timeout)
        if not response.success:
            raise AmiLoginError(
                f"AMI node {node.name} ({node.host}:{node.port}) refused the login of user "
                f"{node.username!r}: {response.get('Message', '')}. Check the username and "
                "secret against manager.conf (see dialplan/manager.conf)."
            )
        self.connected = True
        self.sessions += 1
        self.last_error = None
        log.info(
            "connected to AMI node %s at %s:%s (%s)",
            node.name,
            node.host,
            node.port,
            protocol.parser.banner or "no banner",
        )
        try:
            # The resync runs beside the keep-alive: a connection lost mid-resync ends both.
            tasks: set[asyncio.Future[Any]] = {manager.lost}
            keepalive = asyncio.create_task(self._keepalive(manager, protocol))
            tasks.add(keepalive)
            if self.on_connected is not None:
                resync = asyncio.create_task(self._run_on_connected())
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                keepalive.cancel()
                if self.on_connected is not None:
                    resync.cancel()
            if keepalive.done() and not keepalive.cancelled() and keepalive.exception():
                raise keepalive.exception()  # type: ignore[misc]
            log.warning("AMI node %s closed the connection", node.name)
        finally:
            was_connected = self.connected
            self.connected = False
            if was_connected and self.on_disconnected is not None:
                self.on_disconnected(self)

    async def _run_on_connected(self) -> None:
        assert self.on_connected is not None
        try:
            await self.on_connected(self)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("resync of AMI node %s failed; events are still followed", self.node.name)

    async def _keepalive(self, manager: _Manager, protocol: CallagentAmiProtocol) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            pong = manager.send_action({"Action": "Ping"})
            try:
                await asyncio.wait_for(asyncio.shield(pong), self.ping_timeout)
            except TimeoutError:
                log.warning(
                    "AMI node %s sent no pong within %.1f s: the connection is half-open, "
                    "dropping it",
                    self.node.name,
                    self.ping_timeout,
                )
                protocol.transport.abort()
                raise TimeoutError(f"no pong within {self.ping_timeout} s") from None

    def reconnect(self) -> None:
        """Drop the connection now; the run loop connects again and resyncs."""
        manager = self._manager
        if manager is not None and manager.protocol is not None:
            manager.protocol.transport.abort()

    def _close_session(self) -> None:
        manager, self._manager = self._manager, None
        if manager is not None and manager.protocol is not None:
            manager.protocol.close()

    async def stop(self) -> None:
        """Log off and stop reconnecting."""
        self._stopping = True
        if self.connected:
            try:
                await self.send_action({"Action": "Logoff"}, timeout=1.0)
            except Exception as exc:  # best effort: we are leaving anyway
                log.debug("logoff from %s: %s", self.node.name, exc)
        self._close_session()
