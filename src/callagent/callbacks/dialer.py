"""The call-back dialer: due tasks are offered to a free operator with priority, then
dialled operator-first.

Each pass leases the due tasks (:func:`callagent.callbacks.service.lease_due`) and offers
each to an operator the way routing offers an inbound call: through the router's
``decide`` with ``CALLAGENT_CALLBACK_PRIORITY`` (so a call-back takes its place among
the calls waiting for an operator: with the default 1, before them), or, for a task a
supervisor gave to one operator, a claim of that operator alone. Either way the claim
is the operator book's conditional UPDATE, keyed by the call the Originate will make.

Then one AMI ``Originate``: ``Channel`` is the operator's own phone, ``Context`` is
``CALLAGENT_CALLBACK_CONTEXT`` (dialplan/extensions.conf ``[callagent-callback]``: the
operator hears it is a call-back and the number, then the applicant is dialled),
``Exten`` the applicant's digits, ``ChannelId`` the operator channel's Uniqueid (the
call's Linkedid, so the tracker files the call and the operator's states follow it as
for any call), and ``CALLAGENT_CALLBACK_ID`` names the task on the call. The attempt's
result comes from the campaigns' :class:`~callagent.campaigns.results.OutcomeBook`: the
OriginateResponse says whether the operator answered, the ``DialEnd`` of the operator's
channel says what the applicant did. An Originate is never sent twice (our AMI adapter
fails actions pending across a reconnect); a task whose run died on the line is given
back after its lease (:func:`callagent.callbacks.service.lease_due`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callagent.ami.client import AmiClient, AmiConnectionLost
from callagent.ami.parser import AmiMessage
from callagent.callbacks.models import CallbackTask
from callagent.callbacks.schedule import applicant_result
from callagent.callbacks.service import (
    TASK_VARIABLE,
    Leased,
    Policy,
    finish_attempt,
    lease_due,
    release,
    start_attempt,
    utcnow,
)
from callagent.campaigns.results import OutcomeBook, Watched
from callagent.config import Settings
from callagent.db.models import User
from callagent.routing.operators import ClaimRequest, OperatorBook
from callagent.routing.states import OperatorState

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^\w .,:;!?()/-]")

# (operator id, data) -> show the call-back on that operator's page before the call
PreviewHook = Callable[[int, dict[str, Any]], None]
# (call key's linkedid, priority) -> the router's answer (its channel variables)
Decide = Callable[[str, int], Awaitable[dict[str, str]]]
# (node, call key) -> the router forgets a call that no longer waits
Forget = Callable[[str], None]


@dataclass
class DialerConfig:
    """Timings and names of the call-back dialer."""

    context: str = "callagent-callback"
    ring_timeout: float = 30.0  # the operator's phone rings this long (Originate Timeout)
    response_timeout: float = 10.0  # for Asterisk's answer to the Originate action
    answer_grace: float = 15.0  # after the ring timeout, for the OriginateResponse
    max_call_seconds: float = 3600.0  # an answered call that never hangs up (lost events)
    lease_seconds: float = 120.0
    poll_interval: float = 2.0
    failure_grace: float = 2.0
    priority: int = 1
    batch: int = 10  # tasks leased per pass


@dataclass(frozen=True)
class Claimed:
    """The operator a task was given to."""

    user_id: int
    endpoint: str


class CallbackDialer:
    """Dials due call-backs over one AMI connection, operator first."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        policy: Policy,
        book: OperatorBook,
        config: DialerConfig | None = None,
        decide: Decide | None = None,
        forget: Forget | None = None,
        preview: PreviewHook | None = None,
        clock: Callable[[], datetime] = utcnow,
        owner: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.policy = policy
        self.book = book
        self.config = config or DialerConfig()
        self.decide = decide
        self.forget = forget
        self.preview = preview
        self.clock = clock
        self.owner = owner or f"callbacks-{socket.gethostname()}-{os.getpid()}"
        self.client: AmiClient | None = None
        self.outcomes = OutcomeBook(failure_grace=self.config.failure_grace)
        self.placed = 0
        self.results: list[tuple[int, str]] = []  # (task id, result), for tests and logs
        self._futures: dict[str, asyncio.Future[str]] = {}
        self._calls: set[asyncio.Task[None]] = set()
        self._on_line: set[int] = set()
        self._waiting: dict[int, str] = {}  # task id -> the call key the router keeps waiting
        self._stopping = False
        bind = sessions.kw.get("bind")
        sqlite = bind is not None and bind.dialect.name == "sqlite"
        # SQLite has one writer: this process's threads take turns (as the campaign dialer)
        self._write_lock: threading.Lock | contextlib.nullcontext[None] = (
            threading.Lock() if sqlite else contextlib.nullcontext()
        )

    # ------------------------------------------------------------- AMI side

    @property
    def node(self) -> str:
        """The PBX node whose calls this dialer places."""
        return self.client.node.name if self.client is not None else "pbx1"

    def on_event(self, node: str, message: AmiMessage) -> None:
        """Every AMI event of the connection: settles the attempts on the line."""
        if not self._futures:
            return
        loop = asyncio.get_running_loop()
        for item in self.outcomes.feed(message, loop.time()):
            self._settle(item)

    def _settle(self, item: Watched) -> None:
        future = self._futures.get(item.action_id)
        if future is not None and not future.done():
            future.set_result(item.result)

    def stop(self) -> None:
        """Offer nothing more; the calls on the line are still settled."""
        self._stopping = True

    # ------------------------------------------------------------------ run

    async def run(self) -> None:
        """Pass after pass until :meth:`stop` (or cancelled)."""
        ticker = asyncio.create_task(self._expire())
        try:
            while not self._stopping:
                try:
                    await self.run_once()
                except Exception as exc:  # the database may be away for a while
                    log.warning("call-back pass failed: %s", type(exc).__name__)
                await asyncio.sleep(self.config.poll_interval)
        finally:
            ticker.cancel()
            for waiting in list(self._waiting.values()):
                self._forget(waiting)
            self._waiting.clear()
            if self._calls:
                await asyncio.gather(*self._calls, return_exceptions=True)
            await asyncio.gather(ticker, return_exceptions=True)

    async def _expire(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.5)
            for item in self.outcomes.expire(loop.time()):
                self._settle(item)

    async def run_once(self) -> int:
        """One pass: lease the due tasks, offer each, place the calls; how many were placed."""
        if self.client is None or not self.client.connected:
            return 0
        leased = await asyncio.to_thread(self._lease)
        asked: set[int] = set()
        placed = 0
        nobody = False
        for index, item in enumerate(leased):
            if nobody:
                await asyncio.to_thread(self._release, item.task_id)
                continue
            claimed = await self._offer(item)
            asked.add(item.task_id)
            if claimed is None:
                # nobody free now (the router keeps this call-back's place in line: it is
                # asked again next pass); the others wait for the next pass too
                await asyncio.to_thread(self._release, item.task_id)
                nobody = index < len(leased) - 1
                continue
            self._waiting.pop(item.task_id, None)
            task = asyncio.create_task(self._place(item, claimed))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)
            placed += 1
        # call-backs that stopped asking (reassigned, out of hours, taken by another
        # process): out of the router's line at once, not after its silence
        for task_id in [t for t in self._waiting if t not in asked]:
            self._forget(self._waiting.pop(task_id))
        return placed

    def _forget(self, call: str) -> None:
        if self.forget is not None:
            with contextlib.suppress(Exception):
                self.forget(call)

    # -------------------------------------------------------------- an offer

    def channel_id(self, item: Leased) -> str:
        """The attempt's ChannelId (= the call's Linkedid): the same while the task waits
        for an operator (the router keeps its place), a new one for each Originate."""
        return f"cb-{item.task_id}-{item.serial}"

    async def _offer(self, item: Leased) -> Claimed | None:
        """The operator this task goes to: the router's choice with the call-back's
        priority, or the operator a supervisor gave it to (if free)."""
        linkedid = self.channel_id(item)
        call = f"{self.node}:{linkedid}"
        if item.operator_id is None and self.decide is not None:
            answer = await self.decide(linkedid, self.config.priority)
            if answer.get("CALLAGENT_STATUS") != "ok":
                self._waiting[item.task_id] = call
                return None
            return Claimed(int(answer["CALLAGENT_OPERATOR_ID"]), answer["CALLAGENT_OPERATOR"])
        got = await asyncio.to_thread(self._claim, call, item.operator_id)
        return got

    def _claim(self, call: str, operator_id: int | None) -> Claimed | None:
        """A claim through the operator book: anyone free, or only ``operator_id`` (every
        other ready operator excluded: the same conditional UPDATE as routing's)."""
        exclude: frozenset[int] = frozenset()
        if operator_id is not None:
            with self.sessions() as session:
                others = session.scalars(
                    select(User.id).where(
                        User.state == OperatorState.READY.value, User.id != operator_id
                    )
                ).all()
            exclude = frozenset(others)
        claimed = self.book.claim_many([ClaimRequest(call, None, exclude)])[0]
        if claimed is None:
            return None
        if operator_id is not None and claimed.user_id != operator_id:
            # someone became ready between the read and the claim: not theirs to take
            self.book.release(call, cause="callback_not_assigned")
            return None
        return Claimed(claimed.user_id, claimed.endpoint)

    # ---------------------------------------------------------------- a call

    def originate_action(self, item: Leased, endpoint: str, action_id: str) -> dict[str, Any]:
        """The operator-first Originate of one attempt (nothing from the request but the
        validated number and the topic's first characters in the operator's caller id)."""
        digits = "".join(ch for ch in item.phone if ch.isdigit())
        # the topic came from the website: only letters, digits, spaces and plain
        # punctuation reach the action (no quotes, angle brackets or line breaks)
        label = _UNSAFE.sub("", f"Callback {item.topic}")[:40].strip()
        return {
            "Action": "Originate",
            "ActionID": action_id,
            "Channel": endpoint,
            "Context": self.config.context,
            "Exten": digits,
            "Priority": "1",
            "Timeout": str(int(self.config.ring_timeout * 1000)),
            "CallerID": f'"{label}" <{digits}>',
            "Async": "true",
            "ChannelId": self.channel_id(item),
            "Variable": [
                f"{TASK_VARIABLE}={item.task_id}",
                "CALLAGENT_ORIGIN=callback",
                f"CALLAGENT_PRIORITY={self.config.priority}",
            ],
        }

    async def _place(self, item: Leased, claimed: Claimed) -> None:
        loop = asyncio.get_running_loop()
        linkedid = self.channel_id(item)
        call = f"{self.node}:{linkedid}"
        action_id = f"callagent-{linkedid}"
        result = "timeout"
        self._on_line.add(item.task_id)
        try:
            started = await asyncio.to_thread(
                self._start, item, claimed.user_id, action_id, linkedid
            )
            if not started:  # the lease was lost meanwhile: not ours to dial
                await asyncio.to_thread(self.book.release, call, cause="callback_no_call")
                return
            if self.preview is not None:
                with contextlib.suppress(Exception):
                    self.preview(claimed.user_id, self._preview(item))
            watched = self.outcomes.watch(action_id, linkedid)
            future: asyncio.Future[str] = loop.create_future()
            self._futures[action_id] = future
            assert self.client is not None
            try:
                response = await self.client.send_action(
                    self.originate_action(item, claimed.endpoint, action_id),
                    as_list=False,
                    timeout=self.config.response_timeout,
                )
            except (AmiConnectionLost, TimeoutError) as exc:
                # it may have been placed: never sent again; the lease expires, the task is
                # due again (an attempt that never reported costs the applicant nothing)
                log.warning("call-back %d: no answer to its Originate (%s)", item.task_id, exc)
                result = "timeout"
            else:
                if response.get("Response") != "Success":
                    log.warning(
                        "call-back %d: Originate refused: %s",
                        item.task_id,
                        str(response.get("Message", ""))[:200],
                    )
                    result = "refused"
                else:
                    self.placed += 1
                    outcome = await self._await(watched, future)
                    result = applicant_result(
                        operator_reached=watched.answered,
                        dial_status=watched.dial_status,
                        timed_out=outcome == "timeout",
                    )
            if result in ("operator_no_answer", "refused", "timeout"):
                # the operator never took it: free again (the PBX's own events may have
                # freed them already; releasing twice changes nothing)
                await asyncio.to_thread(self.book.release, call, cause="callback_no_call")
            await asyncio.to_thread(self._finish, item.task_id, result)
            self.results.append((item.task_id, result))
            log.info("call-back %d attempt: %s", item.task_id, result)
        except Exception:
            log.exception("call-back %d: attempt failed", item.task_id)
        finally:
            self.outcomes.forget(action_id)
            self._futures.pop(action_id, None)
            self._on_line.discard(item.task_id)

    async def _await(self, watched: Watched, future: asyncio.Future[str]) -> str:
        config = self.config
        try:
            return await asyncio.wait_for(
                asyncio.shield(future), config.ring_timeout + config.answer_grace
            )
        except TimeoutError:
            if not watched.answered:
                return "timeout"
        try:  # the operator answered: the call goes on until it hangs up
            return await asyncio.wait_for(asyncio.shield(future), config.max_call_seconds)
        except TimeoutError:
            return "answered"

    def _preview(self, item: Leased) -> dict[str, Any]:
        """What the operator's page shows before the call: who, about what, the window the
        applicant asked for, the attempts so far (the live stream masks the name and number
        for a user without calls:read_pii); ``channel_id`` names the call it is about."""
        return {
            "task_id": item.task_id,
            "name": item.name,
            "phone": item.phone,
            "topic": item.topic,
            "attempt": item.attempt,
            "attempts_before": item.attempt - 1,
            "max_attempts": item.max_attempts,
            "window_from": item.window_from.isoformat() if item.window_from else None,
            "window_to": item.window_to.isoformat() if item.window_to else None,
            "requested_at": item.requested_at.isoformat(),
            "channel_id": self.channel_id(item),
        }

    # ------------------------------------------------------------- database

    def _lease(self) -> list[Leased]:
        with self._write_lock, self.sessions.begin() as session:
            return lease_due(
                session,
                policy=self.policy,
                owner=self.owner,
                now=self.clock(),
                limit=self.config.batch,
                lease_seconds=self.config.lease_seconds,
                on_line=frozenset(self._on_line),
            )

    def _release(self, task_id: int) -> None:
        with self._write_lock, self.sessions.begin() as session:
            release(session, task_id, self.owner)

    def _start(self, item: Leased, operator_id: int, action_id: str, channel_id: str) -> bool:
        with self._write_lock, self.sessions.begin() as session:
            return start_attempt(
                session,
                task_id=item.task_id,
                owner=self.owner,
                operator_id=operator_id,
                action_id=action_id,
                channel_id=channel_id,
                now=self.clock(),
                lease_seconds=self.config.ring_timeout
                + self.config.answer_grace
                + self.config.max_call_seconds,
            )

    def _finish(self, task_id: int, result: str) -> None:
        with self._write_lock, self.sessions.begin() as session:
            finish_attempt(
                session,
                task_id=task_id,
                policy=self.policy,
                result=result,
                node=self.node,
                now=self.clock(),
            )


def dialer_config(settings: Settings) -> DialerConfig:
    """The call-back dialer's settings."""
    return DialerConfig(
        context=settings.callback_context,
        ring_timeout=float(settings.originate_ring_timeout),
        response_timeout=settings.campaign_response_timeout,
        priority=settings.callback_priority,
    )


def _any_open(sessions: sessionmaker[Session]) -> bool:
    try:
        with sessions() as session:
            found = session.scalar(
                select(CallbackTask.id)
                .where(CallbackTask.status.in_(("waiting", "due", "calling")))
                .limit(1)
            )
    except Exception as exc:  # the database may be away for a while
        log.warning("call-back dialer: cannot read tasks: %s", type(exc).__name__)
        return False
    return found is not None


async def run_callbacks(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    book: OperatorBook,
    decide: Decide | None = None,
    forget: Forget | None = None,
    preview: PreviewHook | None = None,
    config: DialerConfig | None = None,
) -> None:
    """The service's call-back dialer, until cancelled, on its own AMI connection to the
    first node (opened only once a call-back is open, as the campaign scheduler does)."""
    if not settings.ami_nodes:
        return
    config = config or dialer_config(settings)
    while True:  # polling the database: a request may come through another process
        if await asyncio.to_thread(_any_open, sessions):
            break
        await asyncio.sleep(config.poll_interval)
    dialer = CallbackDialer(
        sessions,
        policy=Policy.of(settings),
        book=book,
        config=config,
        decide=decide,
        forget=forget,
        preview=preview,
    )
    client = AmiClient.from_settings(settings.ami_nodes[0], settings, on_event=dialer.on_event)
    dialer.client = client
    connection = asyncio.create_task(client.run())
    log.info("call-back dialer started (CALLAGENT_CALLBACK_DIALER=off to disable)")
    try:
        await dialer.run()
    finally:
        dialer.stop()
        await client.stop()
        connection.cancel()
        await asyncio.gather(connection, return_exceptions=True)
