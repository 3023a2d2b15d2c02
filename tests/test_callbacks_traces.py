"""Operator-first call-backs the applicant does not take (busy, no answer) as recorded
traces, in the style of cacofonisk's replay tests (issue #13).

No real Asterisk recording of these two exists: the simulator derives them from the
recorded ``click_to_call`` (sim/outbound.py: the applicant's Dial ends BUSY after 0.3 s,
or rings out its 10 s). Their AMI bytes, as the simulator sent them for the dialer's own
Originate, are kept in ``tests/fixtures/callbacks/`` with the outputs expected from them
(``<name>.json``), and:

- the simulator must still send the same events, header by header (ids and times aside):
  a change to it shows here, not as a dialer that silently stops retrying;
- the dialer's outcome reading (campaigns' ``OutcomeBook`` + ``applicant_result``) turns
  each trace into its result, and does not crash when the first k events are missing
  (attaching mid-call);
- replayed over TCP into the service (SQLite and PostgreSQL), each gives the call record
  expected, and the same bytes again change nothing.

``python -m tests.test_callbacks_traces`` records the fixtures again (then review the diff).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy.orm import sessionmaker

from callagent.ami.parser import AmiMessage
from callagent.callbacks.dialer import CallbackDialer
from callagent.callbacks.schedule import applicant_result
from callagent.callbacks.service import Leased
from callagent.campaigns.results import OutcomeBook
from callagent.routing.operators import OperatorBook
from callagent.sim.ami_server import AmiServer
from tests.conftest import TRACES, running_service
from tests.test_callbacks_dialer import POLICY
from tests.test_live_replay import play
from tests.test_sim_outbound import Recording, _client, _closed_port, events, normalise

FIXTURES = Path(__file__).parent / "fixtures" / "callbacks"
CASES = ("busy", "no_answer")
TASK = Leased(
    7, "+79161110002", "Иванова Мария", "Паспорт", None, 1, datetime(2026, 12, 7, tzinfo=UTC), 1
)
ACTION_ID = "callagent-cb-7-1"
_SKIPPED = ("Timestamp", "ActionID")


def originate() -> bytes:
    """The call-back dialer's own Originate for TASK on op1001's phone, as AMI bytes."""
    dialer = CallbackDialer(sessionmaker(), policy=POLICY, book=cast(OperatorBook, None))
    action = dialer.originate_action(TASK, "PJSIP/op1001", ACTION_ID)
    lines = []
    for key, value in action.items():
        for one in value if isinstance(value, list) else [value]:
            lines.append(f"{key}: {one}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def simulated(outcome: str) -> bytes:
    """What the simulator sends for that Originate when the applicant is ``outcome``."""
    server = AmiServer()
    await server.start()
    sim = Recording(
        server, TRACES, outcome=lambda number, attempt: outcome, agi_port=_closed_port(), speed=50.0
    )
    try:
        _reader, writer = await _client(server)
        writer.write(originate())
        await writer.drain()
        await asyncio.sleep(0.05)
        await sim.wait_idle()
        writer.close()
    finally:
        await server.stop()
    return sim.sent


def stored(case: str) -> tuple[bytes, dict[str, Any]]:
    name = f"operator_first_{case}"
    return (FIXTURES / f"{name}.ami").read_bytes(), json.loads(
        (FIXTURES / f"{name}.json").read_text()
    )


def outcome_of(messages: list[AmiMessage]) -> tuple[str, bool]:
    """The dialer's reading of the events: (the attempt's result, whether it settled)."""
    book = OutcomeBook(failure_grace=0.5)
    watched = book.watch(ACTION_ID, "cb-7-1")
    settled = False
    for n, message in enumerate(messages):
        settled = bool(book.feed(message, float(n))) or settled
    return applicant_result(
        operator_reached=watched.answered, dial_status=watched.dial_status, timed_out=False
    ), settled


@pytest.mark.parametrize("case", CASES)
async def test_the_simulator_sends_the_stored_trace(case: str) -> None:
    ours = events(await simulated(case))
    data, _ = stored(case)
    kept = events(data)
    assert [m.event for m in ours] == [m.event for m in kept]
    for mine, theirs in zip(ours, kept, strict=True):
        assert list(mine.headers) == list(theirs.headers), mine.event
        for key, value in theirs.headers.items():
            if key not in _SKIPPED:
                assert normalise(mine[key], ()) == normalise(value, ()), (mine.event, key)


@pytest.mark.parametrize("case", CASES)
def test_the_dialer_reads_each_trace_and_survives_partial_ones(case: str) -> None:
    data, expected = stored(case)
    messages = events(data)
    result, settled = outcome_of(messages)
    assert (result, settled) == (expected["result"], True)
    assert result == case  # the applicant's: an attempt counted, retried later
    # the operator answered first in both: it is the applicant who did not
    assert expected["operator_answered"] is True
    for k in range(1, len(messages)):  # attached mid-call: never a crash, never a wrong result
        partial, _ = outcome_of(messages[k:])
        assert partial in (case, "operator_no_answer", "failed"), (k, partial)


@pytest.mark.parametrize("case", CASES)
async def test_each_trace_makes_its_call_record(case: str, db_url: str) -> None:
    data, expected = stored(case)
    async with running_service(db_url) as service:
        await play(service, data)

        async def record() -> dict[str, Any]:
            page = (await service.client.get("/api/v1/calls?limit=10")).json()
            assert page["total"] == 1, page
            (summary,) = page["items"]
            call = (await service.client.get(f"/api/v1/calls/{summary['id']}")).json()
            return {key: call[key] for key in expected["call"]} | {
                "variables": {k: call["variables"].get(k) for k in expected["variables"]}
            }

        first = await record()
        assert {k: first[k] for k in expected["call"]} == expected["call"]
        assert first["variables"] == expected["variables"]
        await play(service, data, chunk=512)  # the same bytes again: nothing changes
        assert await record() == first


def record_fixtures() -> None:
    """Record the fixtures from the simulator (the expected outputs from the dialer's
    reading of them; the call record's from a first run, reviewed by hand)."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        data = asyncio.run(simulated(case))
        (FIXTURES / f"operator_first_{case}.ami").write_bytes(data)
        result, _ = outcome_of(events(data))
        print(case, "->", result)


if __name__ == "__main__":
    record_fixtures()
