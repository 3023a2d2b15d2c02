"""Which AMI nodes this instance follows, when several instances share one PostgreSQL.

Every instance is configured with every node. One loop per instance takes the lease of
each node nobody holds (:mod:`callagent.db.node_leases`), renews the ones it holds, and
tells the monitor when it gained a node (follow it: restore its calls from the database,
connect, resync) or lost one (stop following it and forget it). Times come from
``CALLAGENT_NODE_TAKEOVER_SECONDS`` (T): the lease lasts 0.6 T, is renewed every 0.15 T,
and free nodes are looked for every 0.1 T, so a dead holder's node is taken within about
0.7 T, leaving the rest of T for the AMI login and the resync.

After a database outage every lease has run out, though every holder may still be alive
and reading its node (what it read waits for the database). An instance that could not
reach the database takes no node until one lease has passed since it reached it again:
the holders renew first (their leases are still theirs: nobody took them), and only a
holder that died meanwhile is taken over, one lease later than without the outage.
Otherwise whichever instance asked first would take a live holder's node, the holder
would drop what it read during the outage, and the taker's resync would close those
calls without their real ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from callagent.config import Settings
from callagent.db.node_leases import (
    NodeFence,
    holders,
    release,
    renew,
    take,
    wait_for_locks,
)
from callagent.db.session import normalise_url

log = logging.getLogger(__name__)

TAKEN, KEPT, LOST, BUSY, FAILED = "taken", "kept", "lost", "busy", "failed"


def leases_wanted(settings: Settings) -> bool:
    """Node leases are for several instances: PostgreSQL only, and not when set to 0."""
    backend = make_url(normalise_url(settings.database_url)).get_backend_name()
    return backend == "postgresql" and settings.node_takeover_seconds > 0


def instance_name(settings: Settings) -> str:
    """``CALLAGENT_INSTANCE_ID``, else host name and HTTP port (unique on a host: a
    restarted instance is the same name and takes its nodes back at once)."""
    return settings.instance_id or f"{socket.gethostname()}:{settings.http_port}"


class NodeOwnership:
    """Takes, renews and gives up the leases of ``nodes`` for one instance."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        nodes: Sequence[str],
        *,
        owner: str,
        takeover_seconds: float,
    ) -> None:
        self.sessions = sessions
        self.nodes = list(nodes)
        self.ttl = 0.6 * takeover_seconds
        self.renew_every = 0.15 * takeover_seconds
        self.poll_every = 0.1 * takeover_seconds
        # a holder frozen inside a write loses its session (and the row's lock) after a
        # lease, so it never keeps the node from being taken over
        self.fence = NodeFence(owner, idle_timeout_ms=int(self.ttl * 1000))
        self.lock_wait_ms = max(100, int(self.poll_every * 1000))
        self.on_acquired: Callable[[str, int], Awaitable[None]] | None = None
        self.on_lost: Callable[[str], Awaitable[None]] | None = None
        self.on_kept: Callable[[str], None] | None = None
        self.takeovers = 0  # nodes this instance took (at start or from another)
        self.losses = 0  # nodes another instance took from this one
        self.settled = False  # one round has run: /readyz may trust what it says
        self._valid_until: dict[str, float] = {}
        # no takeover before this (monotonic): a lease after the database was back
        self._hold_off_until = 0.0
        self._blind = False  # the last round could not reach the database at all
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def owner(self) -> str:
        """This instance's name in the leases."""
        return self.fence.owner

    def owned(self) -> list[str]:
        """The nodes this instance holds (as it last heard from the database)."""
        return [node for node in self.nodes if node in self.fence.tokens]

    def valid(self, node: str) -> bool:
        """Held, and renewed recently enough that nobody else can have taken it yet.

        False after a freeze longer than the lease (the monotonic clock runs on while a
        process is stopped): its events wait until the database says whose node it is.
        """
        return node in self.fence.tokens and time.monotonic() < self._valid_until.get(node, 0)

    def wake(self) -> None:
        """Run a round now (an event arrived past the lease, a write was refused)."""
        self._wake.set()

    def wake_threadsafe(self) -> None:
        """:meth:`wake` from another thread (the writer's)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Take and renew leases until cancelled."""
        self._loop = asyncio.get_running_loop()
        self.fence.on_refused = lambda _nodes: self.wake_threadsafe()
        while True:
            self._wake.clear()  # before the round: a wake during it runs the next at once
            await self.round()
            every = self.renew_every
            if len(self.fence.tokens) < len(self.nodes):
                every = min(every, self.poll_every)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), every)

    async def round(self) -> None:
        """One look at every node's lease: renew ours, take the free ones."""
        started = time.monotonic()
        may_take = not self._blind and started >= self._hold_off_until
        plan = [(node, self.fence.tokens.get(node)) for node in self.nodes]
        outcomes = await asyncio.to_thread(self._round, plan, may_take)
        blind = bool(outcomes) and all(outcome == FAILED for outcome, _ in outcomes.values())
        if self._blind and not blind:
            self._hold_off_until = time.monotonic() + self.ttl
            log.info(
                "the database is back: no node taken over for %.1f s (their holders renew first)",
                self.ttl,
            )
        self._blind = blind
        for node, (outcome, token) in outcomes.items():
            if outcome == TAKEN:
                self.fence.tokens[node] = token
                self._valid_until[node] = started + self.ttl
                self.takeovers += 1
                log.info(
                    "node %s: this instance (%s) follows it now, token %d", node, self.owner, token
                )
                if self.on_acquired is not None:
                    await self.on_acquired(node, token)
            elif outcome == KEPT:
                self._valid_until[node] = started + self.ttl
                if self.on_kept is not None:
                    self.on_kept(node)
            elif outcome == LOST:
                self.fence.tokens.pop(node, None)
                self._valid_until.pop(node, None)
                self.losses += 1
                log.warning(
                    "node %s: another instance took it over; this one (%s) stops following it",
                    node,
                    self.owner,
                )
                if self.on_lost is not None:
                    await self.on_lost(node)
            elif outcome == FAILED and node in self.fence.tokens:
                # The database is out of reach: nobody can take the node meanwhile unless
                # cut off from us only, and then our writes are refused by the token.
                # Keep following it (nothing read from AMI is lost; events are not held,
                # so no round per event while it is away) and ask again at the next round.
                self._valid_until[node] = started + self.ttl
                if self.on_kept is not None:
                    self.on_kept(node)
        self.settled = True

    def _round(
        self, plan: list[tuple[str, int | None]], may_take: bool = True
    ) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        for node, token in plan:
            try:
                with self.sessions.begin() as session:
                    # frozen between its UPDATE and COMMIT, this instance would keep the
                    # row locked: PostgreSQL ends the session after a lease instead
                    wait_for_locks(session, self.lock_wait_ms, self.fence.idle_timeout_ms)
                    if token is None and not may_take:
                        holders(session)  # only: is the database there?
                        out[node] = (BUSY, 0)
                    elif token is None:
                        got = take(session, node, self.owner, self.ttl)
                        out[node] = (TAKEN, got) if got is not None else (BUSY, 0)
                    elif renew(session, node, self.owner, token, self.ttl):
                        out[node] = (KEPT, token)
                    else:
                        out[node] = (LOST, token)
            except Exception as exc:
                log.warning(
                    "node %s: the lease could not be read: %s",
                    node,
                    f"{type(exc).__name__}: {exc}".splitlines()[0][:200],
                )
                out[node] = (FAILED, token or 0)
        return out

    async def release_all(self) -> None:
        """A clean stop: let every held node go at once (another instance takes it)."""
        held = dict(self.fence.tokens)
        self.fence.tokens.clear()
        if held:
            try:
                await asyncio.to_thread(self._release, held)
            except Exception as exc:
                log.warning(
                    "stopping: node leases not released (%s); they run out by themselves",
                    type(exc).__name__,
                )

    def _release(self, held: dict[str, int]) -> None:
        with self.sessions.begin() as session:
            wait_for_locks(session, self.lock_wait_ms, self.fence.idle_timeout_ms)
            for node, token in held.items():
                release(session, node, self.owner, token)
