"""The PBX monitor: AMI clients -> tracker -> writer, and the resync after a reconnect.

Everything on the read path is synchronous and in memory; the only IO it
starts is waking the writer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from callagent.ami.client import AmiClient
from callagent.ami.parser import AmiMessage
from callagent.config import Settings
from callagent.db.queries import operators_by_endpoint
from callagent.db.store import CallStore
from callagent.db.writer import CallWriter
from callagent.node_ownership import NodeOwnership, instance_name, leases_wanted
from callagent.reconcile.channel_vars import read_listed_variables
from callagent.reconcile.service import Reconciler
from callagent.stale_devices import watch_devices
from callagent.tracker.events import DomainEvent
from callagent.tracker.state import state_from_json
from callagent.tracker.tracker import Tracker

log = logging.getLogger(__name__)

# seconds past the dial timeout before a RINGING phone is checked with the PBX
STALE_RINGING_MARGIN = 5.0
# events of a node held while its lease is in doubt (a long freeze); beyond, the rest is
# dropped and, the lease confirmed, the node is read afresh (reconnect and resync)
MAX_HELD_EVENTS = 100_000

Subscriber = Callable[[list[DomainEvent]], None]


def _plain(message: Any) -> AmiMessage:
    """A panoramisk Message (list responses) as our AmiMessage."""
    return AmiMessage({str(k): str(v) for k, v in message.items()})


class Monitor:
    """Follows every configured AMI node and keeps the call records current."""

    def __init__(self, settings: Settings, store: CallStore) -> None:
        self.settings = settings
        self.store = store
        self.tracker = Tracker(
            trunk_endpoints=settings.trunk_endpoints,
            finished_memory=settings.finished_calls_memory,
            # A list set by the administrator overrides telling trunks by the phones.
            trunks_override="trunk_endpoints" in settings.model_fields_set,
        )
        self.writer = CallWriter(
            self.tracker,
            store,
            batch_size=settings.writer_batch_size,
            flush_interval=settings.writer_flush_interval,
        )
        self.subscribers: list[Subscriber] = []
        # Told at every login, before the resync (the fallback queue's sync starts then).
        self.on_login: list[Callable[[AmiClient], None]] = []
        # Awaited before the clients log off on a clean stop: the last actions callagent
        # sends (the fallback queue left as it should be while callagent is away).
        self.before_stop: list[Callable[[], Awaitable[None]]] = []
        self.resyncs = 0
        self.resync_closed = 0
        # Calls of the gaps (callagent down, AMI link lost), rebuilt from the CEL store
        # after each resync; None without CALLAGENT_CEL_URL.
        self.reconciler = Reconciler.from_settings(
            settings,
            store,
            self.tracker,
            on_changed=self.writer.notify,
            stored_first=functools.partial(self.writer.drain, timeout=5.0),
        )
        self.reconciled = 0  # calls rebuilt and stored
        self.reconciliations = 0  # reconciliations that ran to their end
        self.clients = [
            AmiClient.from_settings(
                node, settings, on_event=self.on_event, on_connected=self.resync
            )
            for node in settings.ami_nodes
        ]
        self._tasks: set[asyncio.Task[None]] = set()
        # Several instances on one PostgreSQL: a node is followed only under its lease.
        self.ownership: NodeOwnership | None = None
        if self.clients and leases_wanted(settings):
            self.ownership = NodeOwnership(
                store.sessions,
                [client.node.name for client in self.clients],
                owner=instance_name(settings),
                takeover_seconds=settings.node_takeover_seconds,
            )
            self.ownership.on_acquired = self._node_acquired
            self.ownership.on_lost = self._node_lost
            self.ownership.on_kept = self._release_held
            store.fence = self.ownership.fence
        self._client_tasks: dict[str, asyncio.Task[None]] = {}
        self._ownership_task: asyncio.Task[None] | None = None
        self._held: dict[str, list[tuple[AmiMessage, float]]] = {}
        self._held_overflow: set[str] = set()  # nodes whose held events were cut short

    def on_event(self, node: str, message: AmiMessage) -> None:
        """The hot path: one event into the tracker; wake the writer if it changed."""
        ownership = self.ownership
        if ownership is not None and not ownership.valid(node):
            # Our lease may have run out (a freeze): nothing of this node changes until
            # the database says it is still ours (then these go in, in order) or not.
            held = self._held.setdefault(node, [])
            if len(held) < MAX_HELD_EVENTS:
                held.append((message, time.time()))
            else:
                self._held_overflow.add(node)
            ownership.wake()
            return
        self._feed(node, message, time.time())

    def _feed(self, node: str, message: AmiMessage, at: float) -> None:
        tracker = self.tracker
        events = tracker.feed(node, message, at)
        if tracker.dirty_calls or tracker.dirty_devices:
            self.writer.notify()
        if events and self.subscribers:
            self._publish(events)

    def _publish(self, events: list[DomainEvent]) -> None:
        for subscriber in self.subscribers:
            try:
                subscriber(events)
            except Exception:
                log.exception("a domain-event subscriber failed; the others go on")

    async def resync(self, client: AmiClient) -> None:
        """After every login: list live channels, close what ended while we were away."""
        for hook in self.on_login:
            try:
                hook(client)
            except Exception:
                log.exception("a login hook failed; the resync goes on")
        node = client.node.name
        connected_at = time.time()
        asked_at = self.tracker.events_seen
        try:
            listing = await client.send_action({"Action": "CoreShowChannels"}, as_list=True)
        except Exception as exc:
            log.warning("resync of node %s: CoreShowChannels failed: %s", node, exc)
            return
        items = listing if isinstance(listing, list) else [listing]
        live = [_plain(m) for m in items if m.get("Event") == "CoreShowChannel"]
        # operators on a call attached here (it began while callagent was away) are on it
        self._publish(self.tracker.resync(node, live, time.time(), asked_at_seq=asked_at))
        await read_listed_variables(client, self.tracker, node)  # calls begun while away
        keep = {c.linkedid for c in self.tracker.active_calls(node)}
        closed = await asyncio.to_thread(
            self.store.close_stale_calls, node, keep, datetime.now(UTC)
        )
        self.resyncs += 1
        self.resync_closed += closed
        self.writer.notify()
        log.info(
            "resync of node %s: %d live channel(s), %d stored call(s) closed as ended "
            "while disconnected",
            node,
            len(live),
            closed,
        )
        for action in ({"Action": "DeviceStateList"}, {"Action": "PJSIPShowContacts"}):
            try:
                # The listed items arrive as events and go through on_event.
                await client.send_action(action)  # a list, or an Error when empty
            except Exception as exc:
                log.info("resync of node %s: %s not available: %s", node, action["Action"], exc)
        # last: the phones' states first (routing needs them); a long gap takes seconds
        await self._reconcile(node, connected_at)

    async def _reconcile(self, node: str, connected_at: float) -> None:
        """Store the calls the CEL store has and callagent missed (callagent/reconcile)."""
        if self.reconciler is None:
            return
        try:
            done = await self.reconciler.run(node, connected_at)
        except Exception as exc:
            log.warning("reconciliation of node %s from its CEL store failed: %s", node, exc)
            return
        if done is None:
            return
        self.reconciliations += 1
        self.reconciled += done.stored
        log.info(
            "reconciliation of node %s: %d call(s) in the CEL store since %s, %d rebuilt "
            "and stored as reconstructed, %d live call(s) completed, %d ended while away "
            "given their real end, in %.2f s",
            node,
            done.seen,
            datetime.fromtimestamp(done.since, UTC).isoformat(timespec="seconds"),
            done.stored,
            done.restored,
            done.ended,
            done.seconds,
        )

    def _release_held(self, node: str) -> None:
        """The lease is still ours: the events held meanwhile go in, in their order."""
        for message, at in self._held.pop(node, []):
            self._feed(node, message, at)
        if node in self._held_overflow:  # events were dropped: read the node afresh
            self._held_overflow.discard(node)
            log.warning(
                "node %s: more than %d events held; reconnecting to resync", node, MAX_HELD_EVENTS
            )
            for client in self.clients:
                if client.node.name == node:
                    client.reconnect()

    async def _node_acquired(self, node: str, token: int) -> None:
        """This instance follows ``node`` now: its calls from the database, then AMI."""
        self._held.pop(node, None)
        try:
            saved = await asyncio.to_thread(self.store.unfinished_states, [node])
        except Exception as exc:
            log.warning(
                "node %s: its calls in progress could not be read (%s); the resync closes them",
                node,
                type(exc).__name__,
            )
            saved = []
        restored = self._restore_states(saved)
        log.info(
            "node %s: carrying on with %d call(s) in progress (token %d)", node, restored, token
        )
        client = next(c for c in self.clients if c.node.name == node)
        task = asyncio.create_task(client.run())
        self._client_tasks[node] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _node_lost(self, node: str) -> None:
        """Another instance follows ``node``: stop reading it and forget what we knew."""
        self._held.pop(node, None)
        self._held_overflow.discard(node)
        task = self._client_tasks.pop(node, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.tracker.forget_node(node)

    async def read_operator_phones(self) -> None:
        """Tell the tracker which endpoints are operators' phones (see Tracker.classify)."""
        try:
            phones = await asyncio.to_thread(self._operator_phones)
        except Exception as exc:
            log.warning("could not read the operators' phones (%s); kept the last ones", exc)
            return
        self.tracker.operator_endpoints = phones

    def _operator_phones(self) -> frozenset[str]:
        with self.store.sessions() as session:
            return frozenset(operators_by_endpoint(session))

    async def _follow_operator_phones(self, interval: float = 5.0) -> None:
        # A phone given to an operator counts as theirs within this many seconds.
        while True:
            await asyncio.sleep(interval)
            await self.read_operator_phones()

    async def restore(self) -> int:
        """Take up the calls an earlier run left unfinished; returns how many."""
        await self.read_operator_phones()  # before any event is classified
        nodes = [client.node.name for client in self.clients]
        if self.ownership is not None:
            # Leases: the first round now takes the free nodes (their calls restored and
            # their clients started, as without leases); later ones in start()'s loop.
            await self.ownership.round()
            return len(self.tracker.calls)
        if not nodes:
            return 0
        saved = await asyncio.to_thread(self.store.unfinished_states, nodes)
        restored = self._restore_states(saved)
        if restored:
            log.info("carrying on with %d call(s) in progress from an earlier run", restored)
        return restored

    def _restore_states(self, saved: list[dict[str, Any]]) -> int:
        restored = 0
        for data in saved:
            try:
                self.tracker.restore(state_from_json(data))
                restored += 1
            except (TypeError, KeyError, ValueError) as exc:
                log.warning(
                    "a saved call state could not be restored (%s); the resync closes it", exc
                )
        return restored

    def start(self) -> None:
        """Start the writer and one task per AMI node."""
        self._spawn(self.writer.run())
        self._spawn(self._follow_operator_phones())
        if self.ownership is not None:
            # each node's client starts when its lease is taken
            self._ownership_task = asyncio.create_task(self.ownership.run())
        else:
            for client in self.clients:
                self._spawn(client.run())
        if self.clients:
            # a phone cannot ring for a routed call longer than the dial timeout
            threshold = self.settings.dial_timeout + STALE_RINGING_MARGIN
            self._spawn(watch_devices(self, threshold=threshold))
        if not self.clients:
            log.warning(
                "no AMI node configured: callagent is waiting. Set CALLAGENT_AMI_HOST "
                "(and CALLAGENT_AMI_USERNAME / CALLAGENT_AMI_SECRET) or CALLAGENT_AMI_NODES "
                "to follow an Asterisk; see the README's Configuration section"
            )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Log off every node, store what is pending, stop the tasks."""
        for before in self.before_stop:
            try:
                await asyncio.wait_for(before(), 10)
            except Exception as exc:
                log.warning("stopping: a last action did not finish: %s", exc)
        if self._ownership_task is not None:  # no node taken again while stopping
            self._ownership_task.cancel()
            await asyncio.gather(self._ownership_task, return_exceptions=True)
        for client in self.clients:
            await client.stop()
        try:
            await self.writer.drain(timeout=10)
        except Exception as exc:
            log.warning("stopping with unsaved changes: %s", exc)
        if self.ownership is not None:  # after the last write: the next holder reads it
            await self.ownership.release_all()
        if self.reconciler is not None:
            self.reconciler.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def status(self) -> dict[str, Any]:
        """Per-node connection state, for /readyz and /metrics."""
        ownership = self.ownership
        return {
            client.node.name: {
                "connected": client.connected,
                # None: one instance (SQLite, or leases off) follows every node
                "owned": None if ownership is None else client.node.name in ownership.owned(),
                "host": f"{client.node.host}:{client.node.port}",
                "events_received": client.events_received,
                "events_malformed": client.events_malformed,
                "reconnects": client.reconnects,
                "last_error": client.last_error,
            }
            for client in self.clients
        }
