"""Click-to-call: ring an operator's phone, then the applicant, through AMI Originate.

Originate has a long history of privilege escalation in Asterisk, so nothing
from a request reaches the action but a validated number: the channel is the
operator's own endpoint, the context comes from configuration, the variables
are fixed. The call record exists (``in_progress``) before the action is sent,
so its id can be returned at once; the tracker fills it in by its Linkedid,
which is the ``ChannelId`` we choose.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callagent.ami.client import AmiClient, AmiConnectionLost
from callagent.ami.parser import AmiMessage
from callagent.db.lease_models import NodeLease
from callagent.db.models import Call
from callagent.errors import ServiceError
from callagent.node_ownership import NodeOwnership
from callagent.tracker.events import DomainEvent, OriginateResult

log = logging.getLogger(__name__)
_SEPARATORS = re.compile(r"[\s().-]")
_NUMBER = re.compile(r"^\+?[0-9]{5,15}$")
_ACTION_PREFIX = "callagent-"  # an Originate's ActionID: this prefix and the linkedid
DIAL_OUT_IDLE = 60.0  # a dial-out AMI session unused this long is closed (seconds)


class OriginateError(ServiceError):
    """The call could not be placed; ``status`` is the HTTP status to answer with,
    ``retry_after`` (seconds) goes out as the Retry-After header."""

    def __init__(self, status: int, detail: str, retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        super().__init__(status, detail, headers)
        self.retry_after = retry_after


def normalise_number(raw: str) -> str:
    """``+7 (916) 123-45-67`` -> ``79161234567``; a clear error for anything else."""
    compact = _SEPARATORS.sub("", raw)
    if not _NUMBER.match(compact):
        raise OriginateError(
            422,
            f"{raw!r} is not a phone number: use 5 to 15 digits, optionally with a leading +, "
            "spaces, dashes or brackets",
        )
    return compact.lstrip("+")


class RateLimiter:
    """At most ``per_minute`` actions per actor in any 60 s (per process)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._stamps: dict[str, deque[float]] = defaultdict(deque)

    def check(self, actor: str) -> None:
        """Count one action of ``actor`` or raise a 429 saying when to retry."""
        now = time.monotonic()
        stamps = self._stamps[actor]
        while stamps and stamps[0] <= now - 60:
            stamps.popleft()
        if len(stamps) >= self.per_minute:
            wait = int(stamps[0] + 60 - now) + 1
            raise OriginateError(
                429, f"at most {self.per_minute} calls a minute; try again in {wait} s", wait
            )
        stamps.append(now)


@dataclass(frozen=True)
class Placed:
    """A click-to-call that Asterisk accepted."""

    call_id: int
    node: str
    linkedid: str


def _no_events(_node: str, _message: AmiMessage) -> None:
    """A dial-out session follows nothing (logged in with events off)."""


class DialOut:
    """AMI sessions of this instance's own for the click-to-calls on nodes another
    instance follows (issue #16).

    An Originate may go over any manager session of a node: its answer comes back on
    that session, and the call's events go to every session that has them, so the
    node's holder follows the call and completes the record under the linkedid chosen
    here (and closes it if the OriginateResponse says it failed: the linkedid is in the
    ActionID). A session is opened on first use (``Events: off``) and closed after
    ``idle`` seconds without a call, so an instance that never dials out holds none.
    """

    def __init__(self, like: dict[str, AmiClient], *, idle: float = DIAL_OUT_IDLE) -> None:
        self._like = like  # the monitor's clients: the nodes, credentials and timeouts
        self.idle = idle
        self.clients: dict[str, AmiClient] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._up: dict[str, asyncio.Event] = {}  # set while the session is logged in
        self._kick: dict[str, asyncio.Event] = {}  # set on each use: the idle timer restarts

    async def client(self, name: str) -> AmiClient:
        """The node's dial-out session, connected (or not, after its connect timeout)."""
        client = self.clients.get(name)
        if client is None:
            like = self._like[name]
            up = self._up[name] = asyncio.Event()
            self._kick[name] = asyncio.Event()

            async def connected(_client: AmiClient) -> None:
                up.set()

            client = AmiClient(
                like.node,
                on_event=_no_events,
                on_connected=connected,
                on_disconnected=lambda _client: up.clear(),
                ping_interval=like.ping_interval,
                ping_timeout=like.ping_timeout,
                connect_timeout=like.connect_timeout,
                reconnect_min=like.reconnect_min,
                reconnect_max=like.reconnect_max,
                max_frame_bytes=like.max_frame_bytes,
                events=False,
            )
            self.clients[name] = client
            self._tasks[name] = asyncio.create_task(self._keep(name, client))
        self._kick[name].set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up[name].wait(), client.connect_timeout)
        return client

    async def _keep(self, name: str, client: AmiClient) -> None:
        runner = asyncio.create_task(client.run())
        kick = self._kick[name]
        try:
            used = True
            while used:  # until a whole idle period passes without a call
                kick.clear()
                try:
                    await asyncio.wait_for(kick.wait(), self.idle)
                except TimeoutError:
                    used = False
        finally:
            self.clients.pop(name, None)
            self._tasks.pop(name, None)
            await client.stop()
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)

    async def stop(self) -> None:
        """Close every dial-out session."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Originator:
    """Places click-to-call calls and closes the records of those that fail."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clients: list[AmiClient],
        *,
        context: str,
        ring_timeout: int,
        per_minute: int,
        ownership: NodeOwnership | None = None,
    ) -> None:
        self.sessions = sessions
        self.clients = {client.node.name: client for client in clients}
        self.context = context
        self.ring_timeout = ring_timeout
        self.limiter = RateLimiter(per_minute)
        self._pending: dict[tuple[str, str], str] = {}  # (node, ActionID) -> linkedid
        # Several instances: who follows each node; a node another instance follows is
        # dialled over a session of our own (None: one instance, as before)
        self.ownership = ownership
        self.dial_out = DialOut(self.clients) if ownership is not None else None

    async def place(self, *, actor: str, endpoint: str, number: str, node: str | None) -> Placed:
        """Ring ``endpoint``, then ``number`` (already normalised)."""
        if not self.clients:
            raise OriginateError(503, "no AMI node is configured: callagent cannot place calls")
        name = node or next(iter(self.clients))
        client = self.clients.get(name)
        if client is None:
            raise OriginateError(422, f"unknown PBX node {name!r}; known: {sorted(self.clients)}")
        if not client.connected:
            client = await self._another_session(name)
        self.limiter.check(actor)
        linkedid = "c2c-" + uuid.uuid4().hex[:24]
        action_id = _ACTION_PREFIX + linkedid
        call_id = await asyncio.to_thread(self._placeholder, name, linkedid, endpoint, number)
        action = {
            "Action": "Originate",
            "ActionID": action_id,
            "Channel": endpoint,
            "Context": self.context,
            "Exten": number,
            "Priority": "1",
            "Timeout": str(self.ring_timeout * 1000),
            "CallerID": f'"callagent" <{number}>',
            "Async": "true",
            "ChannelId": linkedid,
            "Variable": "CALLAGENT_ORIGIN=click_to_call",
        }
        self._pending[(name, action_id)] = linkedid
        try:
            # as_list=False: the "successfully queued" answer is the response; panoramisk
            # would otherwise wait for the OriginateResponse event (the operator answering)
            response = await client.send_action(action, as_list=False, timeout=5.0)
        except (AmiConnectionLost, TimeoutError) as exc:
            # Not re-sent (it may have been placed); the record says what we know.
            await asyncio.to_thread(self._close, name, linkedid, "failed")
            raise OriginateError(502, f"Asterisk did not accept the call: {exc}") from exc
        if response.get("Response") != "Success":
            await asyncio.to_thread(self._close, name, linkedid, "failed")
            raise OriginateError(
                502, f"Asterisk refused the call: {response.get('Message', 'no reason given')}"
            )
        log.info("click-to-call %s placed by %s from %s", linkedid, actor, endpoint)
        return Placed(call_id, name, linkedid)

    async def _another_session(self, name: str) -> AmiClient:
        """The monitor's session to ``name`` is down: a node another instance follows
        is dialled over a session of our own; else a 503 (naming the holder, if any)."""
        if self.ownership is None or self.dial_out is None or name in self.ownership.owned():
            raise OriginateError(503, f"AMI node {name} is not connected; try again shortly")
        client = await self.dial_out.client(name)
        if client.connected:
            return client
        holder = await asyncio.to_thread(self._holder, name)
        raise OriginateError(
            503,
            f"AMI node {name} could not be reached from this instance"
            + (f" (instance {holder} follows it)" if holder else " (no instance follows it)")
            + "; try again shortly",
        )

    def _holder(self, node: str) -> str | None:
        try:
            with self.sessions() as session:
                return session.scalar(select(NodeLease.owner).where(NodeLease.node == node))
        except Exception:  # the database is away too: the 503 says what it can
            return None

    def on_domain_events(self, events: list[DomainEvent]) -> None:
        """A failed OriginateResponse closes the record when no channel ever came
        (also of a click-to-call another instance sent over its own session: the
        linkedid is in the ActionID, and only the node's holder hears the response)."""
        for event in events:
            if not isinstance(event, OriginateResult):
                continue
            linkedid = self._pending.pop((event.node, event.action_id), None)
            if linkedid is None and event.action_id.startswith(_ACTION_PREFIX + "c2c-"):
                linkedid = event.action_id.removeprefix(_ACTION_PREFIX)
            if linkedid is not None and event.response != "Success":
                asyncio.get_running_loop().run_in_executor(
                    None, self._close, event.node, linkedid, "failed"
                )

    def _placeholder(self, node: str, linkedid: str, endpoint: str, number: str) -> int:
        stamp = datetime.now(UTC)
        with self.sessions.begin() as session:
            call = Call(
                node=node,
                linkedid=linkedid,
                direction="outbound",
                caller_number="",
                caller_name="",
                dialled_number=number,
                applicant_number=number,
                started_at=stamp,
                hold_seconds=0.0,
                operator_endpoint=endpoint,
                disposition="in_progress",
                hangup_cause_text="",
                queue_name="",
                recording_file="",
                final=False,
                partial=False,
                closed_by_resync=False,
                variables={"CALLAGENT_ORIGIN": "click_to_call"},
                transfers=[],
                originate={"action_id": _ACTION_PREFIX + linkedid},
                timeline=[{"at": stamp.timestamp(), "event": "originate_requested"}],
                updated_at=stamp,
            )
            session.add(call)
            session.flush()
            return call.id

    def _close(self, node: str, linkedid: str, disposition: str) -> None:
        stamp = datetime.now(UTC)
        with self.sessions.begin() as session:
            call = session.scalar(select(Call).where(Call.node == node, Call.linkedid == linkedid))
            if call is None or call.final or call.legs:
                return  # the tracker followed real channels: it knows better
            call.final = True
            call.disposition = disposition
            call.hangup_by = "system"
            call.ended_at = stamp
            call.timeline = [*call.timeline, {"at": stamp.timestamp(), "event": "originate_failed"}]
