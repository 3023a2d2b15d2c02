"""The campaign dialer: lease due entries, Originate them at the campaign's pace, store results.

One :class:`Dialer` serves one AMI connection (``callagent campaign run`` opens its
own; the service's scheduler too). For every campaign it runs a loop that leases
due entries (:mod:`callagent.campaigns.lease`: the attempt row with its unique
ActionID is stored before anything is sent), sends one async ``Originate`` per
entry (``ChannelId`` = the dialled channel's Uniqueid, channel variables
``CALLAGENT_CAMPAIGN_ID`` / ``CALLAGENT_ENTRY_ID`` / ``CALLAGENT_ATTEMPT_ID``), and
settles each attempt from the AMI events (:mod:`callagent.campaigns.results`).
The result, the entry's new state and the ``notification.result`` webhook are
written in one transaction.

An Originate is never sent twice: our AMI adapter fails actions that were
pending when the connection dropped (panoramisk 1.4 would send them again), and
an attempt whose answer never comes ends as ``timeout`` after a bounded time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from callagent.ami.client import AmiClient, AmiConnectionLost
from callagent.ami.parser import AmiMessage
from callagent.campaigns.lease import CampaignPlan, Leased, lease_due, release_unsent, renew
from callagent.campaigns.orphans import settle_orphans
from callagent.campaigns.pacing import Pacer
from callagent.campaigns.results import OutcomeBook, Watched
from callagent.campaigns.settle import WRAPUP_OWNER, Settled, store_results
from callagent.campaigns.window import WindowError, zone
from callagent.db.campaign_models import (
    Campaign,
    NotificationAttempt,
    RegistryEntry,
    utcnow,
)
from callagent.db.models import Call
from callagent.db.wrapup_models import Wrapup
from callagent.routing.operators import OperatorBook
from callagent.webhooks.outbox import enqueue
from callagent.wrapup.service import call_by_key

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# (operator id, data) -> show the entry on that operator's page before the call
PreviewHook = Callable[[int, dict[str, Any]], None]
_DIAL_STATUS = {
    "ANSWER": "answered",
    "BUSY": "busy",
    "NOANSWER": "no_answer",
    "CONGESTION": "congestion",
    "CHANUNAVAIL": "failed",
}


@dataclass
class DialerConfig:
    """Timings of the dialer (settings ``CALLAGENT_CAMPAIGN_*``)."""

    ring_timeout: float = 30.0  # Originate Timeout: how long the applicant's phone rings
    response_timeout: float = 10.0  # for Asterisk's answer to the Originate action
    answer_grace: float = 15.0  # after the ring timeout, for the OriginateResponse
    max_call_seconds: float = 900.0  # an answered call that never hangs up (lost events)
    lease_seconds: float = 120.0  # renewed while the call lasts
    poll_interval: float = 5.0  # scheduler: how often to look for due entries
    failure_grace: float = 2.0
    store_interval: float = 0.05  # results ending within this are stored together
    give_up_after: float = 60.0  # a cron run without AMI for this long ends (exit code 4)
    operator_context: str = "from-operators"  # click-to-call context (operator mode)


@dataclass
class RunSummary:
    """What a run did."""

    placed: int = 0
    refused: int = 0
    results: Counter[str] = field(default_factory=Counter)
    stopped: str = ""  # nothing_due | until | max_calls | paused | stopped | ami_lost

    @property
    def settled(self) -> int:
        """Attempts that got a result."""
        return sum(self.results.values())


@dataclass
class _CampaignRun:
    plan: CampaignPlan
    pacer: Pacer
    slot: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: dict[int, Leased] = field(default_factory=dict)  # entry id -> leased
    held: dict[int, Leased] = field(default_factory=dict)  # leased by us: queued, calling, storing


class Dialer:
    """Dials the due entries of running campaigns over one AMI connection."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        campaigns: list[str] | None = None,
        config: DialerConfig | None = None,
        clock: Clock = utcnow,
        until: datetime | None = None,
        max_calls: int | None = None,
        forever: bool = False,
        owner: str | None = None,
        book: OperatorBook | None = None,
        preview: PreviewHook | None = None,
        on_progress: Callable[[RunSummary], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.campaign_names = campaigns
        self.config = config or DialerConfig()
        self.clock = clock
        self.until = until
        self.max_calls = max_calls
        self.forever = forever
        self.run_id = owner or f"run-{uuid.uuid4().hex[:12]}"
        self.book = book
        self.preview = preview
        self.on_progress = on_progress
        self.client: AmiClient | None = None
        self.summary = RunSummary()
        self.outcomes = OutcomeBook(failure_grace=self.config.failure_grace)
        self._futures: dict[str, asyncio.Future[str]] = {}
        self._results: list[tuple[CampaignPlan, Leased, Watched, str, asyncio.Future[None]]] = []
        self._results_ready = asyncio.Event()
        # (attempt id, entry id, when): Originates sent, stamped by the writer's next batch
        self._sent: list[tuple[int, int, datetime]] = []
        self._stopping = False
        bind = sessions.kw.get("bind")
        sqlite = bind is not None and bind.dialect.name == "sqlite"
        # SQLite has one writer: this process's threads take turns (as OperatorBook does).
        self._write_lock: threading.Lock | contextlib.nullcontext[None] = (
            threading.Lock() if sqlite else contextlib.nullcontext()
        )

    # ------------------------------------------------------------- AMI side

    def on_event(self, node: str, message: AmiMessage) -> None:
        """Every AMI event of the connection (hot path: dict lookups only)."""
        if not self._futures:
            return
        loop = asyncio.get_running_loop()
        for item in self.outcomes.feed(message, loop.time()):
            self._settle(item)

    def _settle(self, item: Watched) -> None:
        future = self._futures.get(item.action_id)
        if future is not None and not future.done():
            future.set_result(item.result)

    async def _expire(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.5)
            for item in self.outcomes.expire(loop.time()):
                self._settle(item)

    def stop(self) -> None:
        """Lease nothing more; the calls in flight are still settled."""
        self._stopping = True

    # ------------------------------------------------------------------ run

    async def run(self) -> RunSummary:
        """Dial until nothing is due (or --until, --max-calls, stop()); the summary."""
        if self.client is None:
            raise RuntimeError("Dialer.client is not set")
        plans = await asyncio.to_thread(self._plans)
        if not plans and not self.forever:
            self.summary.stopped = "nothing_due"
            return self.summary
        ticker = asyncio.create_task(self._expire())
        writer = asyncio.create_task(self._writer())
        try:
            if self.forever:
                await self._schedule()
            else:
                await asyncio.gather(*(self._campaign(plan) for plan in plans))
        finally:
            ticker.cancel()
            writer.cancel()
            await asyncio.gather(ticker, writer, return_exceptions=True)
        if not self.summary.stopped:
            self.summary.stopped = "stopped" if self._stopping else "nothing_due"
        return self.summary

    async def _schedule(self) -> None:
        """The service's scheduler: every running campaign, forever."""
        running: dict[int, asyncio.Task[None]] = {}
        try:
            while not self._stopping:
                try:
                    plans = await asyncio.to_thread(self._plans)
                except Exception as exc:  # the database may be away for a while
                    log.warning("campaign scheduler: cannot read campaigns: %s", type(exc).__name__)
                    plans = []
                for plan in plans:
                    if plan.id not in running or running[plan.id].done():
                        running[plan.id] = asyncio.create_task(self._campaign(plan))
                await asyncio.sleep(self.config.poll_interval)
        finally:
            # the service stops: entries leased but not dialled go back at once (calls in
            # flight keep their lease until it expires)
            for task in running.values():
                task.cancel()
            await asyncio.gather(*running.values(), return_exceptions=True)

    def _plans(self) -> list[CampaignPlan]:
        with self.sessions() as session:
            query = select(Campaign).where(Campaign.status == "running").order_by(Campaign.id)
            if self.campaign_names:
                query = query.where(Campaign.name.in_(self.campaign_names))
            plans: list[CampaignPlan] = []
            for row in session.scalars(query):
                try:
                    zone(row.office_timezone)
                    plans.append(CampaignPlan.of(row))
                    row.dial_template.format(number="79160000000", e164="+79160000000")
                except WindowError as exc:
                    log.error("campaign %s is not dialled: %s", row.name, exc)
                except (KeyError, IndexError, ValueError):
                    plans.pop()
                    log.error(
                        "campaign %s is not dialled: its dial template %r may name only "
                        "{number} (digits) and {e164} (+digits)",
                        row.name,
                        row.dial_template,
                    )
            return plans

    def _done(self) -> str:
        if self._stopping:
            return "stopped"
        if self.until is not None and self.clock() >= self.until:
            return "until"
        if self.max_calls is not None and self.summary.placed >= self.max_calls:
            return "max_calls"
        return ""

    async def _campaign(self, plan: CampaignPlan) -> None:
        state = _CampaignRun(plan, Pacer(plan.max_concurrent, plan.calls_per_second))
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        queue: list[Leased] = []
        leasing: asyncio.Task[list[Leased]] | None = None
        dry_until = 0.0  # after a lease found nothing: when to look again
        renewer = asyncio.create_task(self._renew(state))
        try:
            checked = loop.time()
            away = 0.0  # since when the AMI connection is down
            while True:
                reason = self._done()
                if reason:
                    self.summary.stopped = self.summary.stopped or reason
                    break
                if loop.time() - checked > 2.0:
                    checked = loop.time()
                    fresh = await asyncio.to_thread(self._fresh_plan, plan.id)
                    status = fresh.status if fresh is not None else "gone"
                    if status != "running":  # paused (or finished) meanwhile
                        log.info("campaign %s is %s: no more calls", plan.name, status)
                        self.summary.stopped = self.summary.stopped or "paused"
                        break
                    if fresh is not None and fresh != plan:
                        # settings changed (window, limits, ...): they apply from the next
                        # lease; the entries they made due are read at once
                        log.info("campaign %s: settings changed, applied now", plan.name)
                        plan = state.plan = fresh
                        state.pacer.resize(fresh.max_concurrent, fresh.calls_per_second)
                        dry_until = 0.0
                if self.client is not None and not self.client.connected:
                    # nothing is dialled while the PBX is away (no attempt is burnt); a cron
                    # run gives up after a while, the scheduler waits
                    away = away or loop.time()
                    if not self.forever and loop.time() - away > self.config.give_up_after:
                        self.summary.stopped = self.summary.stopped or "ami_lost"
                        break
                    await asyncio.sleep(0.2)
                    continue
                away = 0.0
                delay = state.pacer.delay(loop.time())
                if delay > 0:
                    state.slot.clear()
                    wait = min(delay, 1.0) if delay != float("inf") else 1.0
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(state.slot.wait(), wait)
                    continue
                # leased ahead (a quarter to three quarters of the slots): one transaction
                # for many calls, none waiting for it
                ahead = plan.max_concurrent // 4
                if leasing is None and len(queue) <= ahead and loop.time() >= dry_until:
                    want = plan.max_concurrent - state.pacer.in_flight - len(queue) + 3 * ahead
                    # at most ~5 s of calls at the campaign's rate wait in the queue (the
                    # window was checked when they were leased)
                    want = min(want, max(1, int(plan.calls_per_second * 5)))
                    if self.max_calls is not None:
                        want = min(want, self.max_calls - self.summary.placed - len(queue))
                    if want > 0:
                        leasing = asyncio.create_task(asyncio.to_thread(self._lease, plan, want))
                if not queue and leasing is not None:
                    got = await leasing
                    leasing = None
                    state.held.update((item.entry_id, item) for item in got)
                    queue.extend(got)
                    if not got:
                        dry_until = loop.time() + (self.config.poll_interval if tasks else 1.0)
                if not queue:
                    if not tasks and not self.forever:
                        break  # nothing due: a cron run ends here
                    if self.forever and not tasks:
                        return  # the scheduler starts this campaign again when due
                    # not cleared before: a call that ended during the lease wakes us at once
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            state.slot.wait(), max(0.05, dry_until - loop.time())
                        )
                    state.slot.clear()
                    dry_until = 0.0  # a call ended: its retry may be due
                    continue
                if leasing is not None and leasing.done():
                    got = leasing.result()
                    leasing = None
                    state.held.update((item.entry_id, item) for item in got)
                    queue.extend(got)
                item = queue.pop(0)
                state.pacer.started(loop.time())
                state.in_flight[item.entry_id] = item
                self.summary.placed += 1
                task = asyncio.create_task(self._place(state, item))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except asyncio.CancelledError:
            # the process stops: calls in flight are left to their leases; once expired,
            # the next pass settles them from what the PBX reported (campaigns.orphans)
            for task in tasks:
                task.cancel()
            raise
        finally:
            if leasing is not None:
                queue.extend(await leasing)
            if queue:
                await asyncio.to_thread(self._release, queue)
                for item in queue:
                    state.held.pop(item.entry_id, None)
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
        with contextlib.suppress(Exception):  # best effort; the next run links the rest
            await asyncio.to_thread(self._link_calls, plan.id)

    async def _renew(self, state: _CampaignRun) -> None:
        while True:
            await asyncio.sleep(max(0.5, self.config.lease_seconds / 3))
            entries = list(state.held)
            if entries:
                try:
                    await asyncio.to_thread(self._renew_leases, entries)
                except Exception as exc:
                    log.warning("lease renewal failed: %s", type(exc).__name__)

    # ---------------------------------------------------------------- a call

    def originate_action(
        self, plan: CampaignPlan, item: Leased, endpoint: str = ""
    ) -> dict[str, Any]:
        """The Originate for one attempt (message mode: the applicant; operator mode:
        ``endpoint`` first, then the applicant through the click-to-call context)."""
        digits = item.phone.lstrip("+")
        variables = [
            f"CALLAGENT_CAMPAIGN_ID={plan.id}",
            f"CALLAGENT_ENTRY_ID={item.entry_id}",
            f"CALLAGENT_ATTEMPT_ID={item.attempt_id}",
        ]
        action: dict[str, Any] = {
            "Action": "Originate",
            "ActionID": item.action_id,
            "Priority": "1",
            "Timeout": str(int(self.config.ring_timeout * 1000)),
            "Async": "true",
            "ChannelId": item.channel_id,
        }
        if endpoint:
            action.update(
                Channel=endpoint,
                Context=self.config.operator_context,
                Exten=digits,
                CallerID=plan.caller_id or f'"{plan.name[:40]}" <{digits}>',
            )
            variables.append("CALLAGENT_ORIGIN=campaign")
        else:
            action.update(
                Channel=plan.dial_template.format(number=digits, e164=item.phone),
                Context=plan.context,
                Exten="s",
            )
            if plan.caller_id:
                action["CallerID"] = plan.caller_id
        action["Variable"] = variables
        return action

    async def _place(self, state: _CampaignRun, item: Leased) -> None:
        plan = state.plan
        loop = asyncio.get_running_loop()
        watched = self.outcomes.watch(item.action_id, item.channel_id)
        future: asyncio.Future[str] = loop.create_future()
        self._futures[item.action_id] = future
        outcome = "timeout"
        try:
            endpoint = ""
            if plan.mode == "operator":
                endpoint = await asyncio.to_thread(self._claim_operator, plan, item)
                if not endpoint:
                    # nobody free: no call, not an attempt; try again shortly
                    state.pacer.refused(loop.time())
                    state.in_flight.pop(item.entry_id, None)
                    await asyncio.to_thread(self._refused, item, 5.0, "no_operator")
                    self.summary.refused += 1
                    return
            assert self.client is not None
            self._sent.append((item.attempt_id, item.entry_id, self.clock()))
            self._results_ready.set()
            try:
                response = await self.client.send_action(
                    self.originate_action(plan, item, endpoint),
                    # the "queued" answer is enough (panoramisk would wait for the event)
                    as_list=False,
                    timeout=self.config.response_timeout,
                )
            except (AmiConnectionLost, TimeoutError) as exc:
                # It may have been placed: never sent again; the attempt counts.
                log.warning(
                    "campaign %s: no answer to Originate %s (%s): attempt timed out",
                    plan.name,
                    item.action_id,
                    type(exc).__name__,
                )
            else:
                if response.get("Response") != "Success":
                    state.pacer.refused(loop.time())
                    state.in_flight.pop(item.entry_id, None)
                    pause = max(0.0, state.pacer.paused_until - loop.time())
                    await asyncio.to_thread(
                        self._refused, item, pause, str(response.get("Message", ""))[:200]
                    )
                    self.summary.refused += 1
                    if endpoint:
                        await asyncio.to_thread(self._release_operator, item)
                    return
                outcome = await self._await(watched, future)
                if plan.mode == "operator":
                    if not watched.answered and outcome != "timeout":
                        # the operator did not take it: the applicant was never dialled
                        await asyncio.to_thread(self._release_operator, item)
                        state.pacer.finished("no_answer", loop.time())
                        state.in_flight.pop(item.entry_id, None)
                        await asyncio.to_thread(self._refused, item, 30.0, "operator_no_answer")
                        self.summary.refused += 1
                        return
                    outcome = _operator_outcome(watched, outcome)
            # the call is over: its slot is free while its result is stored
            state.pacer.finished(outcome, loop.time())
            state.in_flight.pop(item.entry_id, None)
            state.slot.set()
            await self._store(plan, item, watched, outcome)
            self.summary.results[outcome] += 1
            if self.on_progress is not None:
                self.on_progress(self.summary)
        except Exception:
            log.exception("campaign %s: attempt %s failed", plan.name, item.attempt_id)
            if item.entry_id in state.in_flight:
                state.pacer.finished("timeout", loop.time())
        finally:
            self.outcomes.forget(item.action_id)
            self._futures.pop(item.action_id, None)
            state.in_flight.pop(item.entry_id, None)
            state.held.pop(item.entry_id, None)
            state.slot.set()

    async def _store(
        self, plan: CampaignPlan, item: Leased, watched: Watched, outcome: str
    ) -> None:
        """Queue the attempt's result for the next batch write; return once it is stored."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._results.append((plan, item, watched, outcome, future))
        self._results_ready.set()
        await future

    async def _writer(self) -> None:
        """Stores finished attempts in batches: one transaction for all that ended meanwhile."""
        while True:
            await self._results_ready.wait()
            await asyncio.sleep(self.config.store_interval)  # coalesce: one transaction
            self._results_ready.clear()
            sent, self._sent = self._sent, []
            if sent:
                with contextlib.suppress(Exception):  # a stamp lost: the lease time stays
                    await asyncio.to_thread(self._stamp_sent, sent)
            batch, self._results = self._results, []
            if not batch:
                continue
            try:
                await asyncio.to_thread(self._finish_many, [b[:4] for b in batch])
            except Exception as exc:
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for *_, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _await(self, watched: Watched, future: asyncio.Future[str]) -> str:
        config = self.config
        try:
            return await asyncio.wait_for(
                asyncio.shield(future), config.ring_timeout + config.answer_grace
            )
        except TimeoutError:
            if not watched.answered:
                return "timeout"
        try:  # answered: the call goes on until it hangs up
            return await asyncio.wait_for(asyncio.shield(future), config.max_call_seconds)
        except TimeoutError:
            return "answered"

    # ------------------------------------------------------------- database

    def _lease(self, plan: CampaignPlan, want: int) -> list[Leased]:
        config = self.config
        with self._write_lock, self.sessions.begin() as session:
            now = self.clock()
            # calls of runs that went away first: settled from what the PBX reported,
            # and a call still going keeps its entry from being dialled again
            going = settle_orphans(
                session,
                plan,
                node=self.node,
                now=now,
                longest=timedelta(
                    seconds=config.ring_timeout + config.answer_grace + config.max_call_seconds
                ),
            )
            return lease_due(
                session,
                plan,
                owner=self.run_id,
                run_id=self.run_id,
                now=now,
                limit=want,
                lease_seconds=config.lease_seconds,
                busy=going,
            )

    def _release(self, items: list[Leased]) -> None:
        with self._write_lock, self.sessions.begin() as session:
            release_unsent(session, items, owner=self.run_id)

    @property
    def node(self) -> str:
        """The PBX node whose calls this dialer places (its AMI connection's)."""
        return self.client.node.name if self.client is not None else ""

    def _link_calls(self, campaign_id: int) -> int:
        """Attempts settled before their call record was written get its id now."""
        record = (
            select(Call.id)
            .where(Call.node == self.node, Call.linkedid == NotificationAttempt.channel_id)
            .limit(1)
            .scalar_subquery()
        )
        with self._write_lock, self.sessions.begin() as session:
            result = session.execute(
                update(NotificationAttempt)
                .where(
                    NotificationAttempt.campaign_id == campaign_id,
                    NotificationAttempt.result.not_in(("", "refused")),
                    NotificationAttempt.call_id.is_(None),
                )
                .values(call_id=record)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def _fresh_plan(self, campaign_id: int) -> CampaignPlan | None:
        """The campaign as it is now; None when it is gone or its window cannot be read."""
        with self.sessions() as session:
            row = session.get(Campaign, campaign_id)
            if row is None:
                return None
            try:
                return CampaignPlan.of(row)
            except WindowError as exc:
                log.error("campaign %s is not dialled: %s", row.name, exc)
                return None

    def _renew_leases(self, entries: list[int]) -> None:
        with self._write_lock, self.sessions.begin() as session:
            renew(
                session,
                entries,
                owner=self.run_id,
                now=self.clock(),
                lease_seconds=self.config.lease_seconds,
            )

    def _claim_operator(self, plan: CampaignPlan, item: Leased) -> str:
        """Operator mode: claim a free operator for this entry and show it to them."""
        if self.book is None:
            self.book = OperatorBook(self.sessions)
        node = self.client.node.name if self.client is not None else "pbx1"
        claimed = self.book.claim(f"{node}:{item.channel_id}")
        if claimed is None:
            return ""
        if self.preview is not None:
            try:
                self.preview(claimed.user_id, self._preview_data(plan, item))
            except Exception:
                log.exception("campaign preview could not be shown")
        return claimed.endpoint

    def _release_operator(self, item: Leased) -> None:
        """Operator mode, no call after all: the claimed operator is free again."""
        if self.book is not None:
            node = self.client.node.name if self.client is not None else "pbx1"
            self.book.release(f"{node}:{item.channel_id}", cause="campaign_no_call")

    def _preview_data(self, plan: CampaignPlan, item: Leased) -> dict[str, Any]:
        with self.sessions() as session:
            entry = session.get(RegistryEntry, item.entry_id)
            assert entry is not None
            return entry_preview(plan, entry, item)

    def _refused(self, item: Leased, pause: float, reason: str) -> None:
        """Asterisk refused the Originate (or no operator was free): not an attempt."""
        now = self.clock()
        with self._write_lock, self.sessions.begin() as session:
            attempt = session.get(NotificationAttempt, item.attempt_id)
            if attempt is not None:
                attempt.result = "refused"
                attempt.ended_at = now
            entry = session.get(RegistryEntry, item.entry_id)
            if entry is not None and entry.lease_owner == self.run_id:
                entry.attempts = max(0, entry.attempts - 1)
                entry.status = "pending"
                entry.lease_owner = ""
                entry.lease_until = None
                entry.next_attempt_at = now + timedelta(seconds=pause)
        log.info("campaign attempt %s not placed: %s", item.attempt_id, reason or "refused")

    def _stamp_sent(self, sent: list[tuple[int, int, datetime]]) -> None:
        """The attempts' and entries' call times become the moments their Originates went out."""
        with self._write_lock, self.sessions.begin() as session:
            session.execute(
                update(NotificationAttempt).execution_options(synchronize_session=None),
                [
                    {"id": attempt_id, "originated_at": when, "started_at": when}
                    for attempt_id, _, when in sent
                ],
            )
            session.execute(
                update(RegistryEntry).execution_options(synchronize_session=None),
                [{"id": entry_id, "last_call_at": when} for _, entry_id, when in sent],
            )

    def _finish_many(self, batch: list[tuple[CampaignPlan, Leased, Watched, str]]) -> None:
        """Results, entries' new states and webhooks of many attempts, in one transaction."""
        settled = [Settled(*result, owner=self.run_id) for result in batch]
        with self._write_lock, self.sessions.begin() as session:
            store_results(session, settled, node=self.node, now=self.clock())


def _operator_outcome(watched: Watched, outcome: str) -> str:
    """Operator mode: the operator answered first; the applicant's leg decides."""
    if outcome != "answered":
        return "timeout" if outcome == "timeout" else "failed"  # the operator was not reached
    return _DIAL_STATUS.get(
        watched.dial_status, "answered" if watched.operator_answered else "failed"
    )


def entry_preview(plan: CampaignPlan, entry: RegistryEntry, item: Leased) -> dict[str, Any]:
    """What the operator's page shows before the applicant is dialled (operator mode)."""
    return {
        "campaign_id": plan.id,
        "campaign": plan.name,
        "entry_id": entry.id,
        "attempt_id": item.attempt_id,
        "applicant_name": entry.applicant_name,
        "phone": item.phone,
        "case_number": entry.case_number,
        "service": entry.service,
        "office": entry.office,
        "ready_date": entry.ready_date,
        "note": entry.note,
        "attempt": item.attempt_number,
        "category_hint": "document_notification",
    }


def wrapup_listener(session: Session, wrapup: Wrapup) -> None:
    """A submitted ready-document wrap-up writes its result back to the registry entry.

    Registered with the wrap-up service (runs in the submit's transaction). The call
    names its entry through ``CALLAGENT_ENTRY_ID`` (set by the Originate).
    """
    if wrapup.category != "document_notification":
        return
    call = call_by_key(session, wrapup.call_key)
    if call is None and wrapup.call_id is not None:
        call = session.get(Call, wrapup.call_id)
    raw = (call.variables or {}).get("CALLAGENT_ENTRY_ID", "") if call is not None else ""
    entry = session.get(RegistryEntry, int(raw)) if raw.isdigit() else None
    if entry is None:
        return
    fields = dict(wrapup.fields or {})
    notified = fields.get("result") == "notified"
    reason = str(fields.get("reason") or "")
    comment = str(fields.get("comment") or "")
    now = utcnow()
    campaign = session.get(Campaign, entry.campaign_id)
    if notified:
        entry.status, entry.last_result = "notified", "operator_notified"
    elif reason == "call_later" and campaign is not None and entry.attempts < campaign.max_attempts:
        delay = float((campaign.retry_delays or {}).get("no_answer", 1800))
        entry.status, entry.last_result = "pending", "operator_call_later"
        entry.next_attempt_at = now + timedelta(seconds=delay)
    else:
        entry.status, entry.last_result = "not_notified", f"operator_{reason or 'not_notified'}"
    entry.operator_comment = comment or reason
    if entry.lease_owner == WRAPUP_OWNER:
        entry.lease_owner, entry.lease_until = "", None
    entry.updated_at = now
    enqueue(
        session,
        event_type="notification.result",
        subject=f"wrapup:{wrapup.id}:{entry.status}",
        ordering_key=f"entry:{entry.id}",
        data={
            "campaign_id": entry.campaign_id,
            "campaign": campaign.name if campaign is not None else "",
            "entry_id": entry.id,
            "case_number": entry.case_number,
            "result": "operator_wrapup",
            "status": entry.status,
            "attempts": entry.attempts,
            "last_result": entry.last_result,
            "operator_comment": entry.operator_comment,
            "call_id": call.id if call is not None else None,
            "at": now.isoformat(),
        },
    )
