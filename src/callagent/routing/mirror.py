"""Mirroring operators' availability into an app_queue fallback with AMI QueuePause.

Plain app_queue knows only a fixed ``wrapuptime``; with this, a call that falls back
to the queue never rings an operator in after-call work, on a break or offline.
Two ways in, one rule (``queue_sync.wanted_pause``):

- every state change is forwarded as it happens (:meth:`QueueMirror.forward`);
- the queue is read back (``QueueStatus``) and corrected (:meth:`QueueMirror.sync`)
  after every AMI login, after every ``FullyBooted`` (an Asterisk restart unpauses
  every static member), every ``CALLAGENT_QUEUE_SYNC_INTERVAL`` seconds (a pause set
  from the CLI), and once more on a clean stop, with the stop column of the rule.

The AMI answer formats are recorded in ``shared/pbx-traces/queue_pause_unpause.ami``
and ``shared/pbx-traces/live/live_queue_status*.ami``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callagent.ami.client import AmiClient
from callagent.db.models import User
from callagent.routing.operators import StateChange
from callagent.routing.queue_sync import (
    OperatorPhones,
    OperatorSource,
    PauseAction,
    QueueMember,
    Rule,
    SyncPlan,
    change_needs_action,
    pause_action,
    plan_sync,
    wanted_pause,
)
from callagent.tracker.events import DomainEvent, NodeRestarted

log = logging.getLogger(__name__)

# Seconds after a forwarded change during which a sync leaves that phone to the forward.
FRESH = 1.0


def operator_phones(sessions: sessionmaker[Session]) -> list[OperatorPhones]:
    """Every active user with a phone: state, pause reason, endpoints (one SELECT)."""
    with sessions() as session:
        rows = session.execute(
            select(User.id, User.state, User.state_reason, User.endpoints).where(
                User.active.is_(True)
            )
        ).all()
    return [
        OperatorPhones(user_id, state, reason or "", tuple(endpoints))
        for user_id, state, reason, endpoints in rows
        if endpoints
    ]


@dataclass
class SyncResult:
    """One sync of one node: what was read, what was sent."""

    node: str
    trigger: str
    members: int
    plan: SyncPlan
    sent: int


class QueueMirror:
    """Keeps the fallback queue's pauses in line with operators' states."""

    def __init__(
        self,
        changes: queue.SimpleQueue[StateChange],
        clients: list[AmiClient],
        queue_name: str,
        *,
        operators: OperatorSource | None = None,
        sync_interval: float = 0.0,
        settle: float = 0.3,
        timeout: float = 5.0,
    ) -> None:
        self.changes = changes
        self.clients = clients
        self.queue_name = queue_name
        self.operators = operators  # None: forward changes only, never read the queue
        self.sync_interval = sync_interval  # 0: no periodic sync
        self.settle = settle  # a login and its FullyBooted come together: one sync
        self.timeout = timeout
        self.sent = 0
        self.syncs: list[SyncResult] = []  # the latest few, for tests and /metrics
        self._wanted = {client.node.name: asyncio.Event() for client in clients}
        self._lock = asyncio.Lock()  # a sync and the forwarding never interleave
        self._unknown_logged: set[tuple[str, str]] = set()
        self._stopped = False
        # (node, interface) -> when a change was last forwarded there: a change is queued
        # inside its transaction, so a sync right after may read the state before it.
        self._forwarded: dict[tuple[str, str], float] = {}

    # ------------------------------------------------------------ triggers

    def request_sync(self, client: AmiClient) -> None:
        """Ask for a sync of ``client``'s node soon (a login: the monitor's hook)."""
        event = self._wanted.get(client.node.name)
        if event is not None:
            event.set()

    def on_events(self, events: list[DomainEvent]) -> None:
        """The monitor's subscriber: a ``FullyBooted`` asks for a sync of its node."""
        for event in events:
            if isinstance(event, NodeRestarted) and not event.shutdown:
                wanted = self._wanted.get(event.node)
                if wanted is not None:
                    wanted.set()

    # ------------------------------------------------------------- running

    async def run(self, interval: float = 0.1) -> None:
        """Forward changes and keep each node in sync, forever (until cancelled)."""
        loops = []
        if self.operators is not None:
            loops = [asyncio.create_task(self._sync_loop(client)) for client in self.clients]
        try:
            while True:
                while True:
                    try:
                        change = self.changes.get_nowait()
                    except queue.Empty:
                        break
                    await self.forward(change)
                await asyncio.sleep(interval)
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)

    async def _sync_loop(self, client: AmiClient) -> None:
        wanted = self._wanted[client.node.name]
        if client.connected:
            wanted.set()  # connected before this task started: its login was not seen
        while True:
            trigger = "connect"
            try:
                if self.sync_interval > 0:
                    await asyncio.wait_for(wanted.wait(), self.sync_interval)
                else:
                    await wanted.wait()
            except TimeoutError:
                trigger = "periodic"
            else:
                await asyncio.sleep(self.settle)
            wanted.clear()
            if not client.connected or self._stopped:
                continue
            try:
                await self.sync(client, trigger=trigger)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "fallback queue %s on node %s: sync failed (%s: %s); next try on the "
                    "next login or in %.0f s",
                    self.queue_name,
                    client.node.name,
                    type(exc).__name__,
                    exc,
                    self.sync_interval,
                )

    async def forward(self, change: StateChange) -> None:
        """One change: pause or unpause the operator's phones in the fallback queue."""
        if self._stopped or not change_needs_action(change.from_state, change.to_state):
            return
        wanted = wanted_pause(change.to_state, change.reason)
        async with self._lock:
            for endpoint in change.endpoints:
                action = pause_action(
                    endpoint, paused=wanted.paused, reason=wanted.reason, queue=self.queue_name
                )
                for client in self.clients:
                    if not client.connected:
                        continue
                    with contextlib.suppress(Exception):  # not a member there: nothing to do
                        await client.send_action(action, timeout=2.0)
                        self.sent += 1
                        self._forwarded[(client.node.name, endpoint)] = time.monotonic()

    # ---------------------------------------------------------------- sync

    async def sync(
        self, client: AmiClient, *, trigger: str = "connect", rule: Rule = Rule.RUNNING
    ) -> SyncResult:
        """Read ``QueueStatus`` of the fallback queue and send the pauses that differ."""
        assert self.operators is not None
        node = client.node.name
        async with self._lock:
            # as_list left to panoramisk: a list after "EventList: start", one Error if refused
            listing = await client.send_action(
                {"Action": "QueueStatus", "Queue": self.queue_name}, timeout=self.timeout
            )
            if not isinstance(listing, list):
                if not _succeeded(listing):
                    raise RuntimeError(f"QueueStatus refused: {listing.get('Message', '')}")
                listing = [listing]
            members = [
                QueueMember.from_event({str(k): str(v) for k, v in item.items()})
                for item in listing
                if item.get("Event") == "QueueMember"
            ]
            # Read after QueueStatus: a change committed since is forwarded after this.
            operators = await asyncio.to_thread(self.operators)
            plan = plan_sync(members, operators, queue=self.queue_name, rule=rule)
            # A phone whose change was just forwarded is the forward's: the database read
            # above may predate that change's commit (it would be "corrected" back).
            now = time.monotonic()
            fresh = [
                a
                for a in plan.actions
                if now - self._forwarded.get((node, a.interface), -FRESH) >= FRESH
            ]
            sent = 0
            for action in fresh:
                response = await client.send_action(
                    action.ami(self.queue_name), timeout=self.timeout
                )
                sent += _succeeded(response)
                self._log_correction(node, trigger, action, response)
        result = SyncResult(node, trigger, len(members), plan, sent)
        self.syncs = [*self.syncs[-19:], result]
        self._log_result(result)
        return result

    async def hand_over(self) -> None:
        """On a clean stop: leave the queue as it should be while callagent is away."""
        if self.operators is None:
            return
        self._stopped = True  # no forward after this: the stop column stands
        for client in self.clients:
            if not client.connected:
                continue
            try:
                await self.sync(client, trigger="stop", rule=Rule.STOPPED)
            except Exception as exc:
                log.warning(
                    "fallback queue %s on node %s: not handed over on stop (%s: %s); "
                    "operators in wrap-up stay paused there until callagent is back",
                    self.queue_name,
                    client.node.name,
                    type(exc).__name__,
                    exc,
                )

    # ----------------------------------------------------------------- logs

    def _log_correction(self, node: str, trigger: str, action: PauseAction, response: Any) -> None:
        if not _succeeded(response):
            log.warning(
                "fallback queue %s on node %s: QueuePause %s refused: %s",
                self.queue_name,
                node,
                action.interface,
                response.get("Message", ""),
            )
            return
        # Expected after a login or a restart (Asterisk forgot); a drift otherwise.
        level = logging.WARNING if trigger == "periodic" else logging.INFO
        log.log(
            level,
            "fallback queue %s on node %s (%s): %s was %s, operator %d is %s in callagent: %s",
            self.queue_name,
            node,
            trigger,
            action.interface,
            f"paused ({action.was_reason or 'no reason'})" if action.was_paused else "unpaused",
            action.user_id,
            action.state,
            f"paused ({action.reason})" if action.paused else "unpaused",
        )

    def _log_result(self, result: SyncResult) -> None:
        for interface in result.plan.unknown:
            key = (result.node, interface)
            if key not in self._unknown_logged:
                self._unknown_logged.add(key)
                log.info(
                    "fallback queue %s on node %s: member %s is no operator's phone in "
                    "callagent; left as it is",
                    self.queue_name,
                    result.node,
                    interface,
                )
        log.info(
            "fallback queue %s on node %s (%s): %d member(s), %d agreed, %d corrected, "
            "%d not callagent's",
            self.queue_name,
            result.node,
            result.trigger,
            result.members,
            result.plan.agreed,
            result.sent,
            len(result.plan.unknown),
        )


def _succeeded(response: Any) -> bool:
    """An AMI response said ``Response: Success``."""
    return str(response.get("Response", "")).lower() == "success"
