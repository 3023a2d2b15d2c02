"""Node leases on a real PostgreSQL: take, renew, release, take over, and the fence that
refuses a stale holder's writes (issue #16). SQLite has no leases at all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import SecretStr
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from callagent import monitor as monitor_module
from callagent.config import AmiNode, Settings
from callagent.db.lease_models import NodeLease
from callagent.db.models import Base, Call
from callagent.db.node_leases import (
    NodeFence,
    holders,
    release,
    renew,
    take,
    wait_for_locks,
)
from callagent.db.session import make_engine, make_sessionmaker
from callagent.db.store import CallStore
from callagent.monitor import Monitor
from callagent.node_ownership import NodeOwnership, instance_name, leases_wanted
from callagent.tracker.events import OperatorRinging
from callagent.tracker.records import build_record
from callagent.tracker.state import state_to_json
from callagent.tracker.tracker import Tracker
from tests.conftest import (
    _pg_database,
    _pg_drop,
    require_postgres,
    running_service,
    trace_bytes,
    wait_for,
)
from tests.resync_traces import messages
from tests.test_node_takeover import pg_url  # noqa: F401
from tests.test_routing import add_operators, set_ready


@pytest.fixture
def pg() -> Iterator[sessionmaker[Session]]:
    server = require_postgres()
    name, url = _pg_database(server)
    engine = make_engine(url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()
        _pg_drop(server, name)


def _take(db: sessionmaker[Session], node: str, owner: str, ttl: float) -> int | None:
    with db.begin() as session:
        return take(session, node, owner, ttl)


def _renew(db: sessionmaker[Session], node: str, owner: str, token: int) -> bool:
    with db.begin() as session:
        return renew(session, node, owner, token, 0.5)


def test_a_lease_is_held_until_it_runs_out_then_taken_with_a_new_token(
    pg: sessionmaker[Session],
) -> None:
    assert _take(pg, "pbx1", "a", 0.5) == 1
    assert _take(pg, "pbx1", "b", 0.5) is None  # a holds it
    assert _renew(pg, "pbx1", "a", 1)
    time.sleep(0.7)  # a stops renewing: the lease runs out
    assert _take(pg, "pbx1", "b", 5.0) == 2
    assert not _renew(pg, "pbx1", "a", 1)  # a's renewal finds b's token
    with pg() as session:
        owner, token, expires, takeovers = holders(session)["pbx1"]
    assert (owner, token, takeovers) == ("b", 2, 1)
    assert expires > datetime.now(UTC)


def test_a_restart_under_the_same_name_takes_back_at_once_and_release_frees(
    pg: sessionmaker[Session],
) -> None:
    assert _take(pg, "pbx1", "a", 60.0) == 1
    assert _take(pg, "pbx1", "a", 60.0) == 2  # the restarted a: no wait, a new token
    assert not _renew(pg, "pbx1", "a", 1)  # what the old a left in flight is fenced
    with pg.begin() as session:
        release(session, "pbx1", "a", 2)
    assert _take(pg, "pbx1", "b", 60.0) == 3  # released: b at once, not after 60 s


def _records() -> tuple[list, dict]:  # type: ignore[type-arg]
    tracker = Tracker()
    data = trace_bytes("inbound_answered_caller_hangs_up")
    feed = messages(data)
    cut = len(feed) // 2
    for message in feed[:cut]:
        tracker.feed("pbx1", message, 0.0)
    (call,) = tracker.active_calls()
    return [build_record(call)], {call.key: state_to_json(call)}


def test_the_fence_refuses_a_stale_holders_writes(pg: sessionmaker[Session]) -> None:
    token = _take(pg, "pbx1", "a", 0.2)
    assert token == 1
    fence = NodeFence("a", {"pbx1": token})
    refused: list[set[str]] = []
    fence.on_refused = refused.append
    store = CallStore(pg, fence=fence)
    records, states = _records()
    store.write(records, states=states)  # a holds the node: stored
    with pg() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 1
        session.execute(delete(Call))
        session.commit()
    time.sleep(0.3)
    assert _take(pg, "pbx1", "b", 5.0) == 2  # b takes the node over
    store.write(records, states=states)  # a still believes it holds it
    assert store.close_stale_calls("pbx1", set(), datetime.now(UTC)) == 0
    with pg() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 0
    assert refused == [{"pbx1"}, {"pbx1"}] and fence.refused_writes == 2
    # b writes with its own token
    CallStore(pg, fence=NodeFence("b", {"pbx1": 2})).write(records, states=states)
    with pg() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 1


async def test_ownership_takes_free_nodes_and_notices_a_loss(pg: sessionmaker[Session]) -> None:
    ours = NodeOwnership(pg, ["pbx1", "pbx2"], owner="a", takeover_seconds=1.0)
    gained: list[tuple[str, int]] = []
    lost: list[str] = []

    async def acquired(node: str, token: int) -> None:
        gained.append((node, token))

    async def gone(node: str) -> None:
        lost.append(node)

    ours.on_acquired, ours.on_lost = acquired, gone
    with pg.begin() as session:
        take(session, "pbx2", "b", 60.0)  # b follows pbx2
    await ours.round()
    assert gained == [("pbx1", 1)] and ours.owned() == ["pbx1"] and ours.valid("pbx1")
    assert ours.settled and ours.takeovers == 1
    with pg.begin() as session:  # c takes pbx1 by force (as after a freeze)
        session.execute(update(NodeLease).values(owner="c", token=NodeLease.token + 1))
    await ours.round()
    assert lost == ["pbx1"] and ours.owned() == [] and not ours.valid("pbx1")
    assert ours.losses == 1


def test_leases_only_on_postgresql() -> None:
    def settings(url: str, **kw: object) -> Settings:
        return Settings(_env_file=None, database_url=url, **kw)  # type: ignore[arg-type]

    assert not leases_wanted(settings("sqlite:///x.db"))
    assert leases_wanted(settings("postgresql://u:p@h/db"))
    assert not leases_wanted(settings("postgresql://u:p@h/db", node_takeover_seconds=0))
    assert instance_name(settings("sqlite://", instance_id="east-1")) == "east-1"
    assert instance_name(settings("sqlite://", http_port=8181)).endswith(":8181")


def test_migration_0020_is_the_model(pg: sessionmaker[Session]) -> None:
    engine = pg.kw["bind"]
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "node_leases" in repr(d)] == []
    assert "node_leases" in Base.metadata.tables


async def test_events_of_a_node_in_doubt_wait_for_the_leases_answer(
    pg: sessionmaker[Session],
) -> None:
    """After a freeze the lease may be another's: the node's events are held, then fed in
    order if it is still ours, dropped (with what was known of the node) if not."""
    url = pg.kw["bind"].url.render_as_string(hide_password=False)
    node = AmiNode(name="pbx1", port=1, secret=SecretStr("x"))
    settings = Settings(_env_file=None, database_url=url, ami_nodes=[node])  # type: ignore[call-arg]
    monitor = Monitor(settings, CallStore(pg))
    ownership = monitor.ownership
    assert ownership is not None and monitor.store.fence is ownership.fence
    feed = messages(trace_bytes("inbound_answered_caller_hangs_up"))
    ownership.fence.tokens["pbx1"] = 1  # held, but not renewed within the lease
    for message in feed[:10]:
        monitor.on_event("pbx1", message)
    assert monitor.tracker.events_seen == 0 and len(monitor._held["pbx1"]) == 10
    monitor._release_held("pbx1")  # the database said: still ours
    reference = Tracker()
    for message in feed[:10]:
        reference.feed("pbx1", message, 0.0)
    seen = monitor.tracker.events_seen
    assert seen == reference.events_seen > 0 and "pbx1" not in monitor._held
    assert monitor.tracker.active_calls("pbx1")
    for message in feed[10:20]:
        monitor.on_event("pbx1", message)
    await monitor._node_lost("pbx1")  # the database said: another instance's
    assert monitor.tracker.events_seen == seen and "pbx1" not in monitor._held
    assert not monitor.tracker.active_calls("pbx1") and not monitor.tracker.dirty_calls


@pytest.mark.parametrize("inside", ["write", "renewal"])
def test_a_holder_frozen_inside_a_transaction_does_not_block_the_takeover(
    pg: sessionmaker[Session], inside: str
) -> None:
    """A frozen in the middle of a checked write (its FOR SHARE lock held) or of its
    lease's renewal (the row updated, not committed): PostgreSQL ends A's session after
    the lease, and B takes the node; A's transaction then fails."""
    assert _take(pg, "pbx1", "a", 0.5) == 1
    frozen = pg()
    frozen.begin()
    if inside == "write":
        fence = NodeFence("a", {"pbx1": 1}, idle_timeout_ms=500)
        assert fence.refused(frozen, {"pbx1"}) == set()  # A checked its token, then froze
    else:
        wait_for_locks(frozen, 200, idle_ms=500)
        assert renew(frozen, "pbx1", "a", 1, 0.5)  # A renewed, then froze before COMMIT
    started = time.monotonic()
    token = None
    while token is None and time.monotonic() - started < 10:
        try:
            with pg.begin() as session:
                wait_for_locks(session, 200)
                token = take(session, "pbx1", "b", 5.0)
        except OperationalError:  # lock_timeout: A still holds the row
            time.sleep(0.1)
    assert token == 2, "B never took the node over"
    assert time.monotonic() - started < 5
    with pytest.raises(DBAPIError):  # A wakes up: its session is gone
        frozen.execute(select(Call.id))
    frozen.close()


async def test_too_many_held_events_read_the_node_afresh(
    pg: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the bound the rest of the held events are dropped: once the lease is confirmed
    the node's connection is dropped, so the reconnect's resync reads it afresh."""
    monkeypatch.setattr(monitor_module, "MAX_HELD_EVENTS", 5)
    url = pg.kw["bind"].url.render_as_string(hide_password=False)
    node = AmiNode(name="pbx1", port=1, secret=SecretStr("x"))
    settings = Settings(_env_file=None, database_url=url, ami_nodes=[node])  # type: ignore[call-arg]
    monitor = Monitor(settings, CallStore(pg))
    assert monitor.ownership is not None
    monitor.ownership.fence.tokens["pbx1"] = 1
    reconnects: list[str] = []
    monkeypatch.setattr(monitor.clients[0], "reconnect", lambda: reconnects.append("pbx1"))
    for message in messages(trace_bytes("inbound_answered_caller_hangs_up"))[:8]:
        monitor.on_event("pbx1", message)
    assert len(monitor._held["pbx1"]) == 5
    monitor._release_held("pbx1")
    assert reconnects == ["pbx1"]
    monitor._release_held("pbx1")  # once
    assert reconnects == ["pbx1"]


async def test_operator_states_follow_only_the_nodes_this_instance_holds(
    pg_url: str,  # noqa: F811
) -> None:
    """The state driver's changes are fenced too: an instance that kept reading a node
    while cut off from the database does not replay them once the node is another's."""
    async with running_service(pg_url) as service:
        op1, op2 = add_operators(service, 2)
        await set_ready(service, [op1, op2])
        state = service.app.state  # type: ignore[attr-defined]
        driver, book = state.driver, state.book
        ownership = service.monitor.ownership
        assert ownership is not None and driver.fence is ownership.fence
        assert ownership.owned() == ["pbx1"]
        driver.queue.put_nowait(OperatorRinging(("pbx1", "1795370000.1"), "PJSIP/op1001", "a.1"))
        await asyncio.wait_for(driver.queue.join(), 10)
        assert book.view(op1).state == "ringing"  # held: applied
        with state.sessions.begin() as session:  # another instance takes pbx1
            session.execute(update(NodeLease).values(owner="other", token=NodeLease.token + 1))
        driver.queue.put_nowait(OperatorRinging(("pbx1", "1795370000.2"), "PJSIP/op1002", "b.1"))
        await asyncio.wait_for(driver.queue.join(), 10)
        assert book.view(op2).state == "ready"  # refused: pbx1 is another's
        await wait_for(lambda: ownership.owned() == [], timeout=10)  # and it lets pbx1 go
        assert ownership.losses == 1
