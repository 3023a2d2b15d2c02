"""Operators' states in the database: transitions with history, and the atomic claim.

The claim is one conditional UPDATE (``... WHERE state = 'ready'``): two calls, or two
callagent processes on one PostgreSQL, can never get the same operator; the loser
of a race simply tries the next candidate.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    String,
    Table,
    bindparam,
    event,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, sessionmaker

from callagent.db.models import Call, Device, OperatorStateChange, User
from callagent.db.queries import EndpointOwners
from callagent.routing.states import (
    OperatorState,
    Signal,
    back_from_gap,
    next_state,
    resume_after,
)
from callagent.webhooks.outbox import Event, enqueue_many

log = logging.getLogger(__name__)

# How long an operator may be shown on a call that has ended (and no other) before the
# sweep sends them to wrap-up: far beyond the state driver's own change in every normal
# case, so it only catches a change that was lost (see OperatorBook._off_ended_calls).
CALL_GONE_GRACE = 30.0  # seconds

_PAGE = 8  # spare candidates read beyond what a batch of claims needs (then all of them)

# Device states in which a phone cannot take another call.
BUSY_DEVICE_STATES = frozenset(
    {"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD", "UNAVAILABLE", "INVALID"}
)

# Device states of a phone that is on a call (UNAVAILABLE and INVALID are not).
_ON_A_CALL = BUSY_DEVICE_STATES - {"UNAVAILABLE", "INVALID"}

# The claim path runs per call: its statements are Core, built once, on the tables
# (not the ORM entities), and run on the transaction's connection.
_USER_TABLE = cast(Table, User.__table__)
_HISTORY_TABLE = cast(Table, OperatorStateChange.__table__)
_USERS = _USER_TABLE.c
_DEVICES = cast(Table, Device.__table__).c
# The states as literals in the SQL: a list parameter would be re-rendered on every claim.
_PHONE_BUSY = or_(
    _DEVICES.state.in_([literal_column(f"'{state}'") for state in sorted(BUSY_DEVICE_STATES)]),
    _DEVICES.registered.is_(False),
)
# A phone the PBX says can take no call at all (unregistered, UNAVAILABLE): routing skips
# its operator, so the operator may not choose to go ready on it.
_PHONE_DOWN = or_(_DEVICES.state.in_(["UNAVAILABLE", "INVALID"]), _DEVICES.registered.is_(False))
# The busy phones ride along on every candidate row (one round trip, not two): device
# names hold no newline.
_BUSY_LIST = (
    select(func.aggregate_strings(_DEVICES.device, "\n")).where(_PHONE_BUSY).scalar_subquery()
)
_FREE_ALL = (
    select(_USERS.id, _USERS.login, _USERS.endpoints, _USERS.skills, _BUSY_LIST.label("busy"))
    .where(
        _USERS.active.is_(True),
        _USERS.role == "operator",
        _USERS.state == OperatorState.READY.value,
        or_(_USERS.skip_until.is_(None), _USERS.skip_until <= bindparam("now")),
    )
    .order_by(_USERS.idle_since.asc().nulls_first(), _USERS.id)
)
_FREE_FIRST = _FREE_ALL.limit(bindparam("limit"))
# Only an operator still ready can be taken (two processes never share one). Run as
# one executemany for a whole batch (psycopg pipelines it: one round trip).
_TAKE = (
    update(_USER_TABLE)
    .where(_USERS.id == bindparam("user_id"), _USERS.state == OperatorState.READY.value)
    .values(
        state=OperatorState.RINGING.value,
        claimed_call=bindparam("call"),
        state_since=bindparam("now"),
    )
)
# The operators ringing for these calls, locked until they are freed.
_CLAIMS_OF = (
    select(_USERS.id, _USERS.claimed_call)
    .where(
        _USERS.claimed_call.in_(bindparam("calls", expanding=True)),
        _USERS.state == OperatorState.RINGING.value,
    )
    .order_by(_USERS.id)  # locks in one order: two transactions never wait on each other
    .with_for_update()
)
# Who holds these operators now: after a batch lost a race, which of its claims won.
_HOLDERS = select(_USERS.id, _USERS.claimed_call).where(
    _USERS.id.in_(bindparam("ids", expanding=True))
)


@dataclass(frozen=True)
class Claimed:
    """The operator a call was given to."""

    user_id: int
    login: str
    endpoint: str


@dataclass(frozen=True)
class ClaimRequest:
    """A call asking for an operator: with the skill it needs, and who not to ring."""

    call: str
    skill: str | None = None
    exclude: frozenset[int] = frozenset()


@dataclass(frozen=True)
class StateChange:
    """A change of an operator's state, for those who mirror it (the fallback queue)."""

    user_id: int
    endpoints: tuple[str, ...]
    from_state: str
    to_state: str
    reason: str


# Called in a claim's own transaction with the (call, operator) pairs it won: the routing
# state several instances share is written with the claim (routing/shared.py).
ClaimHook = Callable[[Connection, list[tuple[str, int]]], None]

# Called in the transaction that puts an operator into after-call work, with the call
# that ended (its routing key, or None); returns the wrap-up deadline, or None to keep
# the default (CALLAGENT_WRAPUP_SECONDS). The wrap-up service opens its form here.
WrapupHook = Callable[[Session, "User", str | None, datetime], datetime | None]


@dataclass(frozen=True)
class StateView:
    """An operator's state as the API shows it."""

    user_id: int
    login: str
    state: str
    reason: str
    since: datetime | None
    claimed_call: str | None


def utcnow() -> datetime:
    return datetime.now(UTC)


def state_columns(
    new: OperatorState,
    signal: Signal,
    *,
    cause: str,
    reason: str,
    now: datetime,
    skip_seconds: float,
    resume: tuple[OperatorState, str] | None = None,
) -> dict[str, Any]:
    """The operator's columns after a transition to ``new`` (pure).

    Shared by the ORM path (one operator, ``OperatorBook.apply``) and the batch path
    (one UPDATE for many operators, ``OperatorBook.release_many``). The wrap-up
    deadline is not here: it comes from the wrap-up hook, in ``apply``. ``resume``:
    what an operator going ``unavailable`` returns to when the phone is back.
    """
    values: dict[str, Any] = {
        "state": new.value,
        "state_reason": reason if new == OperatorState.PAUSED else "",
        "state_since": now,
        "resume_state": resume[0].value if resume else None,
        "resume_reason": resume[1] if resume else "",
    }
    if new == OperatorState.READY:
        values["idle_since"] = now
        values["wrapup_until"] = None
    if new not in (OperatorState.RINGING, OperatorState.ON_CALL):
        values["claimed_call"] = None  # ringing keeps the claim; on_call keeps its call
    if signal == Signal.NOT_ANSWERED and cause != "call_ended" and skip_seconds:
        values["skip_until"] = now + timedelta(seconds=skip_seconds)
    return values


@dataclass(frozen=True)
class Transition:
    """One change of one operator's state, as stored in the history."""

    user_id: int
    login: str
    at: datetime
    from_state: str
    to_state: str
    reason: str
    cause: str
    call: str | None


def _claimed(user_id: int, login: str, call: str, now: datetime) -> Transition:
    """The history of the router giving ``call`` to an operator: ready -> ringing."""
    return Transition(
        user_id,
        login,
        now,
        OperatorState.READY.value,
        OperatorState.RINGING.value,
        "",
        "route",
        call,
    )


def record_changes(db: Session | Connection, changes: list[Transition]) -> None:
    """History rows and ``operator.state_changed`` webhooks, in the caller's transaction.

    One statement each for all ``changes``: a batch of claims costs what one does.
    """
    if not changes:
        return
    conn = db.connection() if isinstance(db, Session) else db
    conn.execute(
        insert(_HISTORY_TABLE),
        [
            {
                "user_id": c.user_id,
                "at": c.at,
                "from_state": c.from_state,
                "to_state": c.to_state,
                "reason": c.reason,
                "cause": c.cause,
                "call": c.call,
            }
            for c in changes
        ],
    )
    enqueue_many(
        conn,
        event_type="operator.state_changed",
        events=[
            Event(
                subject=f"{c.user_id}:{c.at.isoformat()}:{c.from_state}:{c.to_state}",
                ordering_key=f"operator:{c.user_id}",
                data={
                    "operator_id": c.user_id,
                    "login": c.login,
                    "from_state": c.from_state,
                    "to_state": c.to_state,
                    "reason": c.reason,
                    "cause": c.cause,
                    "call": c.call,
                    "at": c.at.isoformat(),
                },
            )
            for c in changes
        ],
    )


def phones_down(db: Session | Connection, endpoints: Sequence[str] | None) -> list[str]:
    """Which of ``endpoints`` the PBX last said are unregistered or unavailable."""
    if not endpoints:
        return []
    query = select(_DEVICES.device).where(_DEVICES.device.in_(list(endpoints)), _PHONE_DOWN)
    return sorted(set(db.execute(query).scalars()))


def _busy_of(candidates: Sequence[Any]) -> set[str]:
    """The busy phones that came with the candidate rows (the same on every row)."""
    return set(candidates[0].busy.split("\n")) if candidates and candidates[0].busy else set()


def _pick(
    request: ClaimRequest, candidates: Sequence[Any], busy: set[str], examined: set[int]
) -> Claimed | None:
    """The first candidate that fits ``request`` and nobody examined yet (marked examined)."""
    for user_id, login, endpoints, skills, _ in candidates:
        if (
            user_id in examined
            or user_id in request.exclude
            or not endpoints
            or (request.skill is not None and request.skill not in (skills or {}))
            or any(e in busy for e in endpoints)
        ):
            continue
        examined.add(user_id)
        return Claimed(user_id, login, endpoints[0])
    return None


class OperatorBook:
    """Reads and changes operators' states."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        wrapup_seconds: float = 60.0,
        no_answer_policy: str = "skip",
        skip_seconds: float = 30.0,
        claim_timeout: float = 60.0,
    ) -> None:
        self.sessions = sessions
        self._engine: Engine = sessions.kw["bind"]
        self.wrapup_seconds = wrapup_seconds
        self.no_answer_policy = no_answer_policy
        self.skip_seconds = skip_seconds
        self.claim_timeout = claim_timeout
        self.call_gone_grace = CALL_GONE_GRACE
        # Filled from worker threads, drained by the event loop (QueueMirror).
        self.changes: queue.SimpleQueue[StateChange] = queue.SimpleQueue()
        # SQLite has one writer at a time and its busy handler sleeps in steps of up to
        # 100 ms: threads of one process take turns here instead (PostgreSQL: no lock).
        self._write_lock: threading.Lock | contextlib.nullcontext[None] = (
            threading.Lock() if self._engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )
        self._writing = threading.local()  # a burst's transaction (writing())
        self.wrapup_hook: WrapupHook | None = None
        self.claim_conflicts = 0  # lost a race for an operator to a concurrent claim
        self.owners = EndpointOwners(sessions)
        # Called after each commit that made an operator ready, in the thread that
        # committed (not before: a claim must already see them). The router wakes the
        # calls held waiting for an operator with it.
        self.ready_listeners: list[Callable[[], None]] = []
        self._made_ready = f"callagent.made_ready.{id(self)}"  # session.info key
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_rollback", self._after_rollback)

    # ------------------------------------------------------------ transitions

    def apply(
        self,
        session: Session,
        user: User,
        signal: Signal,
        *,
        cause: str,
        reason: str = "",
        call: str | None = None,
        now: datetime | None = None,
        batch: list[Transition] | None = None,
    ) -> bool:
        """Apply ``signal`` to ``user`` in the caller's transaction; False if it does not apply.

        The history row and webhook are written at once, or added to ``batch`` for the
        caller to write with ``record_changes`` (one statement for many operators).
        """
        now = now or utcnow()
        current = OperatorState(user.state)
        new = next_state(current, signal)
        if new is None:
            return False
        if signal in (Signal.LOGIN, Signal.READY) and phones_down(session, user.endpoints):
            return False  # ready on a dead phone: shown ready, never rung (the API says why)
        resume = None
        if signal == Signal.PHONE_BACK:  # what they had chosen before the phone went away
            new, reason = back_from_gap(
                user.resume_state, user.resume_reason, user.wrapup_until, now
            )
        elif new == OperatorState.UNAVAILABLE:
            resume = resume_after(current, user.state_reason)
        if new == current and not (new == OperatorState.PAUSED and reason != user.state_reason):
            return False
        values = state_columns(
            new,
            signal,
            cause=cause,
            reason=reason,
            now=now,
            skip_seconds=self.skip_seconds,
            resume=resume,
        )
        for column, value in values.items():
            setattr(user, column, value)
        if new == OperatorState.WRAP_UP and signal != Signal.PHONE_BACK:  # its form is open
            deadline = self.wrapup_hook(session, user, call, now) if self.wrapup_hook else None
            user.wrapup_until = deadline or now + timedelta(seconds=self.wrapup_seconds)
        transition = Transition(
            user.id, user.login, now, current.value, new.value, user.state_reason, cause, call
        )
        if batch is None:
            record_changes(session, [transition])
        else:
            batch.append(transition)
        self._mirror(transition, user.endpoints)
        if new == OperatorState.READY:
            session.info[self._made_ready] = True  # told after the commit
        return True

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(self._made_ready, False):
            self._tell_ready()

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(self._made_ready, None)

    def _tell_ready(self) -> None:
        for listener in self.ready_listeners:
            try:
                listener()
            except Exception:  # a listener's fault must not undo a committed change
                log.exception("ready listener failed")

    def _mirror(self, transition: Transition, endpoints: Sequence[str] | None) -> None:
        """Tell those who mirror states (the fallback queue) about ``transition``."""
        self.changes.put(
            StateChange(
                transition.user_id,
                tuple(endpoints or ()),
                transition.from_state,
                transition.to_state,
                transition.reason,
            )
        )

    def signal(
        self, user_id: int, signal: Signal, *, cause: str, reason: str = "", call: str | None = None
    ) -> StateView | None:
        """Apply a signal to one operator; None when there is no such operator."""
        with self._write_lock, self.sessions.begin() as session:
            user = session.get(User, user_id)
            if user is None:
                return None
            self.apply(session, user, signal, cause=cause, reason=reason, call=call)
            return _view(user)

    @contextlib.contextmanager
    def writing(self) -> Iterator[Session]:
        """The transaction :meth:`signal_endpoint` writes in: this thread's open one (a
        burst of events stored together, see StateDriver.apply_many), else a new one,
        committed when the block ends."""
        current: Session | None = getattr(self._writing, "session", None)
        if current is not None:
            yield current
            return
        with self._write_lock, self.sessions.begin() as session:
            self._writing.session = session
            try:
                yield session
            finally:
                self._writing.session = None

    def signal_endpoint(
        self,
        endpoint: str,
        signal: Signal,
        *,
        cause: str,
        reason: str = "",
        call: str | None = None,
    ) -> list[int]:
        """Apply a signal to the operators whose phone is ``endpoint``; their ids."""
        changed: list[int] = []
        with self.writing() as session:
            for user in self._by_endpoint(session, endpoint):
                if self.apply(session, user, signal, cause=cause, reason=reason, call=call):
                    changed.append(user.id)
        return changed

    @staticmethod
    def _by_endpoint(session: Session, endpoint: str) -> list[User]:
        """The active users whose phone is ``endpoint`` (this runs for every call event).

        Endpoints are a JSON list: the database narrows the active users to those whose
        list's text holds the quoted endpoint (decoding every user's list for every event
        took 80 % of a signal's time with 500 operators), the lists found are checked
        exactly, and only the owners are loaded as ORM objects.
        """
        query = select(User.id, User.endpoints).where(User.active.is_(True))
        needle = json.dumps(endpoint)  # as the column's text holds it
        if needle.isascii():  # (a JSONB text may hold other characters unescaped)
            query = query.where(sql_cast(User.endpoints, String).contains(needle, autoescape=True))
        phones = session.execute(query)
        ids = [user_id for user_id, endpoints in phones if endpoint in (endpoints or [])]
        if not ids:
            return []
        return list(session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id)))

    # ------------------------------------------------------------------ claim

    def claim(
        self,
        call: str,
        *,
        skill: str | None = None,
        exclude: frozenset[int] = frozenset(),
        now: datetime | None = None,
    ) -> Claimed | None:
        """Give ``call`` to the free operator idle the longest; None when nobody is free."""
        return self.claim_many([ClaimRequest(call, skill, exclude)], now=now)[0]

    def claim_many(
        self,
        requests: list[ClaimRequest],
        *,
        now: datetime | None = None,
        after: ClaimHook | None = None,
    ) -> list[Claimed | None]:
        """Claims for several calls in one transaction, in the order given.

        The free operators are read once, longest idle first; each request gets the
        first one that fits it (skill, phone not busy, not excluded). Each claim is
        still the conditional UPDATE: when another process took that operator in the
        meantime, the request moves on to the next candidate. ``after``: run in the same
        transaction with the calls and operators won.
        """
        now = now or utcnow()
        results: list[Claimed | None] = [None] * len(requests)
        with self._write_lock, self._engine.begin() as conn:
            examined: set[int] = set()  # taken in this batch, or lost to another process
            transitions: list[Transition] = []
            # Enough candidates for every request, then all of them if that was short.
            limit = len(requests) + sum(len(r.exclude) for r in requests) + _PAGE
            candidates = conn.execute(_FREE_FIRST, {"now": now, "limit": limit}).all()
            complete = len(candidates) < limit
            busy = _busy_of(candidates)
            while True:
                picks: dict[int, Claimed] = {}  # request index -> its operator
                for index, request in enumerate(requests):
                    if results[index] is None:
                        pick = _pick(request, candidates, busy, examined)
                        if pick is not None:
                            picks[index] = pick
                won = self._take_many(
                    conn, {pick.user_id: requests[i].call for i, pick in picks.items()}, now
                )
                for index, pick in picks.items():
                    if pick.user_id in won:
                        results[index] = pick
                        transitions.append(
                            _claimed(pick.user_id, pick.login, requests[index].call, now)
                        )
                if all(result is not None for result in results):
                    break
                if len(won) < len(picks):
                    continue  # lost a race: the losers try the next candidates
                if complete:
                    break
                candidates, complete = conn.execute(_FREE_ALL, {"now": now}).all(), True
                busy = _busy_of(candidates)
            record_changes(conn, transitions)
            if after is not None:
                after(conn, [(t.call or "", t.user_id) for t in transitions])
        return results

    def _take_many(self, conn: Connection, calls: dict[int, str], now: datetime) -> set[int]:
        """The conditional UPDATE for each operator -> call, in one round trip; who was won.

        The batch's rowcount says whether every claim won (the usual case); when one lost
        to another process, the holders are read back to tell which.
        """
        if not calls:
            return set()
        params = [{"user_id": user_id, "call": call, "now": now} for user_id, call in calls.items()]
        if conn.execute(_TAKE, params).rowcount == len(calls):
            return set(calls)
        holders = conn.execute(_HOLDERS, {"ids": list(calls)}).all()
        won = {user_id for user_id, call in holders if call == calls[user_id]}
        self.claim_conflicts += len(calls) - len(won)  # taken by a concurrent claim
        return won

    def count_free(self, now: datetime | None = None) -> int:
        """How many operators could take a call now (ready, not skipped)."""
        now = now or utcnow()
        with self.sessions() as session:
            count = session.scalar(
                select(func.count())
                .select_from(User)
                .where(
                    User.active.is_(True),
                    User.role == "operator",
                    User.state == OperatorState.READY.value,
                    or_(User.skip_until.is_(None), User.skip_until <= now),
                )
            )
        return int(count or 0)

    def claim_last_operator(
        self,
        call: str,
        *,
        caller: str,
        window: timedelta,
        now: datetime | None = None,
        after: ClaimHook | None = None,
    ) -> Claimed | None:
        """A repeat caller: the operator who last talked with ``caller``, if free now."""
        now = now or utcnow()
        with self.sessions() as session:
            endpoint = session.scalar(
                select(Call.operator_endpoint)
                .where(
                    Call.applicant_number == caller,
                    Call.operator_endpoint.is_not(None),
                    Call.started_at >= now - window,
                )
                .order_by(Call.started_at.desc())
                .limit(1)
            )
            busy = session.scalar(
                select(Device.device).where(Device.device == endpoint, _PHONE_BUSY)
            )
        if endpoint is None or busy is not None:
            return None
        owner = self.owners.get([endpoint]).get(endpoint)
        if owner is None:
            return None
        user_id, login = owner
        with self._write_lock, self._engine.begin() as conn:
            if not self._take_many(conn, {user_id: call}, now):
                return None
            record_changes(conn, [_claimed(user_id, login, call, now)])
            if after is not None:
                after(conn, [(call, user_id)])
        return Claimed(user_id, login, endpoint)

    def release(
        self, call: str, *, cause: str, signal: Signal = Signal.RELEASE, reason: str = ""
    ) -> list[int]:
        """Free the operators claimed for ``call`` that never answered it."""
        return self.release_many([call], cause=cause, signal=signal, reason=reason)

    def release_many(
        self, calls: list[str], *, cause: str, signal: Signal = Signal.RELEASE, reason: str = ""
    ) -> list[int]:
        """Free the operators claimed for any of ``calls``, in one transaction; their ids.

        ``signal``: RELEASE (no fault of theirs), NOT_ANSWERED (skipped for a while) or
        NOT_ANSWERED_PAUSE (paused with ``reason``). One read of the claims and one
        UPDATE ... RETURNING for all of them (this runs for every call that ends and
        every retry of ``route``).
        """
        ringing = OperatorState.RINGING
        new = next_state(ringing, signal)
        if new is None or not calls:
            return []
        now = utcnow()
        values = state_columns(
            new, signal, cause=cause, reason=reason, now=now, skip_seconds=self.skip_seconds
        )
        transitions: list[Transition] = []
        with self._write_lock, self._engine.begin() as conn:
            # Which call each was claimed for (RETURNING would show the cleared claim);
            # locked so that the UPDATE frees exactly these.
            held = dict(conn.execute(_CLAIMS_OF, {"calls": calls}).all())
            if not held:
                return []
            freed = conn.execute(
                update(_USER_TABLE)
                .where(_USERS.id.in_(held), _USERS.state == ringing.value)
                .values(values)
                .returning(_USERS.id, _USERS.login, _USERS.endpoints)
            ).all()
            for user_id, login, endpoints in freed:
                transition = Transition(
                    user_id,
                    login,
                    now,
                    ringing.value,
                    new.value,
                    values["state_reason"],
                    cause,
                    held[user_id],
                )
                transitions.append(transition)
                self._mirror(transition, endpoints)
            record_changes(conn, transitions)
        if new == OperatorState.READY and transitions:
            self._tell_ready()
        return [t.user_id for t in transitions]

    # ------------------------------------------------------------------ sweep

    def sweep(self, now: datetime | None = None) -> int:
        """Wrap-up deadlines passed -> ready; claims that never rang -> released;
        operators on a call that has ended -> wrap-up (:meth:`_off_ended_calls`)."""
        now = now or utcnow()
        changed = 0
        with self._write_lock, self.sessions.begin() as session:
            changed += self._off_ended_calls(session, now)
            done = session.scalars(
                select(User).where(
                    User.state == OperatorState.WRAP_UP.value, User.wrapup_until <= now
                )
            ).all()
            for user in done:
                changed += self.apply(session, user, Signal.WRAPUP_DONE, cause="deadline", now=now)
            stale = session.scalars(
                select(User).where(
                    User.state == OperatorState.RINGING.value,
                    User.state_since <= now - timedelta(seconds=self.claim_timeout),
                )
            ).all()
            for user in stale:
                changed += self.apply(
                    session,
                    user,
                    Signal.RELEASE,
                    cause="claim_timeout",
                    call=user.claimed_call,
                    now=now,
                )
        return changed

    def _off_ended_calls(self, session: Session, now: datetime) -> int:
        """Operators shown on a call for over ``call_gone_grace`` s whose phones have no
        call in progress and whose last call ended that long ago: to wrap-up for it.

        The state driver does this when the call ends; this catches what its change was
        lost with (the process stopped or was killed between the call's record and the
        operator's change reaching the database): nothing would say that call ended
        again. The grace keeps it behind the driver's own change in every normal case.
        """
        settled = now - timedelta(seconds=self.call_gone_grace)
        on_call = session.scalars(
            select(User).where(
                User.state == OperatorState.ON_CALL.value, User.state_since <= settled
            )
        ).all()
        phones = {phone: user for user in on_call for phone in user.endpoints or ()}
        if not phones:
            return 0
        talking = set(
            session.scalars(
                select(Call.operator_endpoint).where(
                    Call.final.is_(False), Call.operator_endpoint.in_(phones)
                )
            )
        )
        # a phone the PBX says is on a call (one callagent keeps no record of: a consult
        # call, a feature code) keeps its operator where they are
        talking.update(
            session.scalars(
                select(Device.device).where(
                    Device.device.in_(phones), Device.state.in_(sorted(_ON_A_CALL))
                )
            )
        )
        changed = 0
        for user in on_call:
            mine = set(user.endpoints or ()) & phones.keys()
            if not mine or mine & talking:
                continue
            last = session.execute(
                select(Call.node, Call.linkedid, Call.ended_at)
                .where(Call.final.is_(True), Call.operator_endpoint.in_(mine))
                .order_by(Call.ended_at.desc())
                .limit(1)
            ).first()
            if last is None or last.ended_at is None or last.ended_at > settled:
                continue  # no ended call to wrap up (yet): left as it is
            log.warning(
                "operator %s was still shown on call %s:%s, which ended at %s: to wrap-up "
                "(its change had not been stored)",
                user.login,
                last.node,
                last.linkedid,
                last.ended_at.isoformat(timespec="seconds"),
            )
            changed += self.apply(
                session,
                user,
                Signal.CALL_ENDED,
                cause="call_gone",
                call=f"{last.node}:{last.linkedid}",
                now=now,
            )
        return changed

    def view(self, user_id: int) -> StateView | None:
        """One operator's state."""
        with self.sessions() as session:
            user = session.get(User, user_id)
            return None if user is None else _view(user)


def _view(user: User) -> StateView:
    return StateView(
        user.id, user.login, user.state, user.state_reason, user.state_since, user.claimed_call
    )
