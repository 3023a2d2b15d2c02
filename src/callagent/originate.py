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
from callagent.db.models import Call
from callagent.errors import ServiceError
from callagent.tracker.events import DomainEvent, OriginateResult

log = logging.getLogger(__name__)
_SEPARATORS = re.compile(r"[\s().-]")
_NUMBER = re.compile(r"^\+?[0-9]{5,15}$")


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
    ) -> None:
        self.sessions = sessions
        self.clients = {client.node.name: client for client in clients}
        self.context = context
        self.ring_timeout = ring_timeout
        self.limiter = RateLimiter(per_minute)
        self._pending: dict[tuple[str, str], str] = {}  # (node, ActionID) -> linkedid

    async def place(self, *, actor: str, endpoint: str, number: str, node: str | None) -> Placed:
        """Ring ``endpoint``, then ``number`` (already normalised)."""
        if not self.clients:
            raise OriginateError(503, "no AMI node is configured: callagent cannot place calls")
        name = node or next(iter(self.clients))
        client = self.clients.get(name)
        if client is None:
            raise OriginateError(422, f"unknown PBX node {name!r}; known: {sorted(self.clients)}")
        if not client.connected:
            raise OriginateError(503, f"AMI node {name} is not connected; try again shortly")
        self.limiter.check(actor)
        linkedid = "c2c-" + uuid.uuid4().hex[:24]
        action_id = "callagent-" + linkedid
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

    def on_domain_events(self, events: list[DomainEvent]) -> None:
        """A failed OriginateResponse closes the record when no channel ever came."""
        for event in events:
            if not isinstance(event, OriginateResult):
                continue
            linkedid = self._pending.pop((event.node, event.action_id), None)
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
                originate={"action_id": "callagent-" + linkedid},
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
