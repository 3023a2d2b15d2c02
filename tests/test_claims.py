"""The claim path of the operator book: candidates, busy phones, lost races, freeing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.db.models import Call, Device, OperatorStateChange, User
from callagent.db.session import make_engine, make_sessionmaker
from callagent.routing.operators import ClaimRequest, OperatorBook
from callagent.routing.states import OperatorState, Signal

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # before any test runs


@pytest.fixture
def book(db_url: str) -> Iterator[OperatorBook]:
    engine = make_engine(db_url)
    yield OperatorBook(make_sessionmaker(engine), skip_seconds=30)
    engine.dispose()


def ready_operators(book: OperatorBook, count: int) -> list[int]:
    """``count`` ready operators, op1 idle the longest."""
    with book.sessions.begin() as session:
        ids = [
            create_user(
                session,
                login=f"op{n}",
                role=Role.OPERATOR,
                password=None,
                endpoints=[f"PJSIP/op{n}"],
            ).id
            for n in range(1, count + 1)
        ]
        for n, user_id in enumerate(ids):
            user = session.get(User, user_id)
            assert user is not None
            user.state = OperatorState.READY.value
            user.idle_since = T0 + timedelta(seconds=n)
    return ids


def phones(book: OperatorBook, states: dict[str, tuple[str, bool]]) -> None:
    """Device rows as the AMI monitor writes them: endpoint -> (state, registered)."""
    with book.sessions.begin() as session:
        for device, (state, registered) in states.items():
            session.add(
                Device(
                    node="pbx1", device=device, state=state, registered=registered, updated_at=T0
                )
            )


def test_operators_whose_phones_cannot_ring_are_passed_over(book: OperatorBook) -> None:
    ids = ready_operators(book, 14)
    # The ten idle the longest cannot take a call: more than the first page of candidates.
    busy = {f"PJSIP/op{n}": ("INUSE", True) for n in range(1, 8)}
    busy |= {f"PJSIP/op{n}": ("NOT_INUSE", False) for n in range(8, 11)}  # unregistered
    phones(book, busy | {"PJSIP/op11": ("NOT_INUSE", True)})
    claimed = book.claim_many([ClaimRequest("pbx1:1.1"), ClaimRequest("pbx1:1.2")])
    assert [c.login if c else None for c in claimed] == ["op11", "op12"]
    more = book.claim_many([ClaimRequest(f"pbx1:2.{n}") for n in range(4)])
    assert [c.login if c else None for c in more] == ["op13", "op14", None, None]
    with book.sessions() as session:
        ringing = session.scalars(
            select(User.login).where(User.state == OperatorState.RINGING.value)
        ).all()
        assert sorted(ringing) == ["op11", "op12", "op13", "op14"]
        rows = session.scalars(select(OperatorStateChange).order_by(OperatorStateChange.id)).all()
        assert [(r.user_id, r.cause, r.call) for r in rows] == [
            (ids[10], "route", "pbx1:1.1"),
            (ids[11], "route", "pbx1:1.2"),
            (ids[12], "route", "pbx1:2.0"),
            (ids[13], "route", "pbx1:2.1"),
        ]


def test_a_claim_lost_to_another_process_moves_to_the_next_operator(book: OperatorBook) -> None:
    first, second, third = ready_operators(book, 3)
    with book._engine.begin() as conn:
        # Another callagent process took op1 after this batch read its candidates.
        conn.execute(
            update(User)
            .where(User.id == first)
            .values(state=OperatorState.RINGING.value, claimed_call="pbx2:9.9")
        )
        won = book._take_many(conn, {first: "pbx1:1.1", second: "pbx1:1.2"}, T0)
    assert won == {second}
    assert book.claim_conflicts == 1
    with book.sessions() as session:
        holder = session.get(User, first)
        assert holder is not None and holder.claimed_call == "pbx2:9.9"  # theirs, untouched
    assert book.claim("pbx1:1.3") is not None  # op3: the only one still ready
    assert book.view(third) is not None and book.view(third).state == "ringing"  # type: ignore[union-attr]


def test_freeing_many_operators_is_one_change_each_with_history(book: OperatorBook) -> None:
    ids = ready_operators(book, 3)
    claimed = book.claim_many([ClaimRequest(f"pbx1:{n}.1") for n in range(3)])
    assert all(claimed)
    book.changes = type(book.changes)()  # only what freeing reports
    freed = book.release_many(
        ["pbx1:0.1", "pbx1:1.1", "pbx1:7.7"], cause="route_retry", signal=Signal.NOT_ANSWERED
    )
    assert sorted(freed) == sorted(ids[:2])
    with book.sessions() as session:
        users = {u.id: u for u in session.scalars(select(User))}
        for user_id in ids[:2]:
            user = users[user_id]
            assert user.state == "ready" and user.claimed_call is None
            assert user.skip_until is not None  # not answered: skipped for a while
            assert user.idle_since is not None and user.idle_since > T0
        assert users[ids[2]].state == "ringing" and users[ids[2]].claimed_call == "pbx1:2.1"
        history = session.scalars(
            select(OperatorStateChange).where(OperatorStateChange.cause == "route_retry")
        ).all()
        assert sorted((h.user_id, h.from_state, h.to_state, h.call) for h in history) == [
            (ids[0], "ringing", "ready", "pbx1:0.1"),
            (ids[1], "ringing", "ready", "pbx1:1.1"),
        ]
    mirrored = []
    while not book.changes.empty():
        mirrored.append(book.changes.get())
    assert sorted((c.user_id, c.to_state, c.endpoints) for c in mirrored) == [
        (ids[0], "ready", ("PJSIP/op1",)),
        (ids[1], "ready", ("PJSIP/op2",)),
    ]
    # Freeing again changes nothing: the signal no longer applies.
    assert book.release_many(["pbx1:0.1"], cause="route_retry") == []


def test_an_operator_left_on_an_ended_call_goes_to_wrap_up_unless_the_phone_is_busy(
    book: OperatorBook,
) -> None:
    """The sweep frees an operator whose change died with the process (the call is stored
    ended, they are still on it), once the grace is over and only while their phone is
    not on another call the PBX reports."""
    (op1,) = ready_operators(book, 1)
    ended = T0 + timedelta(minutes=1)
    with book.sessions.begin() as session:
        user = session.get(User, op1)
        assert user is not None
        user.state = OperatorState.ON_CALL.value
        user.state_since = T0
        session.add(
            Call(
                node="pbx1",
                linkedid="1796200000.1",
                direction="inbound",
                started_at=T0,
                answered_at=T0 + timedelta(seconds=5),
                ended_at=ended,
                operator_endpoint="PJSIP/op1",
                disposition="answered",
                final=True,
                updated_at=ended,
            )
        )
    phones(book, {"PJSIP/op1": ("INUSE", True)})  # a consult call callagent keeps no record of
    grace = timedelta(seconds=book.call_gone_grace)

    def state() -> str:
        with book.sessions() as session:
            return str(session.scalar(select(User.state).where(User.id == op1)))

    book.sweep(now=ended + grace / 2)
    assert state() == "on_call"  # within the grace: the state driver's change may come
    book.sweep(now=ended + 2 * grace)
    assert state() == "on_call"  # the phone is on a call
    with book.sessions.begin() as session:
        session.execute(update(Device).values(state="NOT_INUSE"))
    book.sweep(now=ended + 2 * grace)
    assert state() == "wrap_up"
    with book.sessions() as session:
        change = session.scalars(
            select(OperatorStateChange).order_by(OperatorStateChange.id.desc()).limit(1)
        ).one()
    assert (change.cause, change.call) == ("call_gone", "pbx1:1796200000.1")
