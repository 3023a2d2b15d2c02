"""A `campaign run` killed with calls open loses no confirmation (issue #15, point 7).

A real `callagent campaign run` process dials through the PBX simulator and is killed
with SIGKILL while its calls are still going. The calls go on: the service (its
tracker and its FastAGI ``notify`` script) hears them end and stores the digits. The
attempts are then settled from what the PBX reported, by a later run: a call still
going keeps its entry from being dialled again; an applicant who pressed 1 is
``notified`` and never dialled again; no attempt with a digit is ``timeout``.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from callagent.campaigns.lease import CampaignPlan, lease_due
from callagent.db.campaign_models import Campaign, NotificationAttempt
from callagent.db.models import Call
from callagent.sim.outbound import NotifyDialogue, _play_notify
from tests.conftest import RunningService, running_service, wait_for
from tests.test_dialer import (
    Clock,
    add_entries,
    dial,
    entries,
    make_campaign,
    sessions_of,
    simulated_outbound,
)
from tests.test_dialer_cli import CALLAGENT, _env, run_cli
from tests.test_routing import agi_port

PRESS_1 = [f"+7916550000{n}" for n in range(6)]
PRESS_9 = ["+79165510001"]
SILENT = ["+79165520001", "+79165520002"]  # answered, pressed nothing
BUSY = ["+79165530001", "+79165530002"]
PLAN = {
    **dict.fromkeys(PRESS_1, "answered:1"),
    **dict.fromkeys(PRESS_9, "answered:9"),
    **dict.fromkeys(SILENT, "answered:none"),
    **dict.fromkeys(BUSY, "busy"),
}
ALL = [*PRESS_1, *PRESS_9, *SILENT, *BUSY]


def _attempts(service: RunningService) -> list[NotificationAttempt]:
    with sessions_of(service)() as session:
        return list(session.scalars(select(NotificationAttempt).order_by(NotificationAttempt.id)))


def _records_final(service: RunningService, channel_ids: list[str]) -> bool:
    with sessions_of(service)() as session:
        final = session.scalars(select(Call.final).where(Call.linkedid.in_(channel_ids))).all()
    return len(final) == len(channel_ids) and all(final)


async def test_a_killed_run_loses_no_confirmation(db_url: str, tmp_path: Path) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service, max_concurrent=20)
        add_entries(service, campaign_id, ALL)
        # speed 0.5: an answered call lasts ~10 s, so the run dies with all of them open
        async with simulated_outbound(service, PLAN, speed=0.5) as sim:
            proc = await asyncio.create_subprocess_exec(
                CALLAGENT,
                "campaign",
                "run",
                env=_env(service, CALLAGENT_CAMPAIGN_LEASE_SECONDS="2"),
                cwd=tmp_path,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                await wait_for(lambda: sum(sim.dialled.values()) == len(ALL), timeout=30)
            finally:
                proc.send_signal(signal.SIGKILL)
                await proc.wait()
            assert sim.in_flight >= len(PRESS_1) + len(PRESS_9) + len(SILENT)
            killed = {a.entry_id: a for a in _attempts(service)}
            assert len(killed) == len(ALL)

            # The lease (2 s) expires while the applicants are still listening: a later
            # run must not close their attempts as timeout nor dial them again.
            await asyncio.sleep(2.5)
            assert sim.in_flight >= len(PRESS_1) + len(PRESS_9) + len(SILENT)
            code, out, err = await run_cli(service, tmp_path)
            assert code == 0, err
            assert "placed 0 call(s)" in out
            assert sum(sim.dialled.values()) == len(ALL)
            open_now = [a for a in _attempts(service) if a.result == ""]
            assert len(open_now) >= len(PRESS_1) + len(PRESS_9) + len(SILENT)

            # The calls end; the service stores the digits (FastAGI) and the call records.
            await sim.wait_idle()
            channel_ids = [a.channel_id for a in killed.values()]
            await wait_for(lambda: _records_final(service, channel_ids), timeout=10)
            digits = {a.phone: a.digit for a in _attempts(service)}
            assert {digits[p] for p in PRESS_1} == {"1"} and digits[PRESS_9[0]] == "9"

            # A later run settles them from what the PBX reported, and dials nobody.
            code, out, err = await run_cli(service, tmp_path)
            assert code == 0, err
            assert "placed 0 call(s)" in out
            assert sum(sim.dialled.values()) == len(ALL)

        attempts = _attempts(service)
        assert len(attempts) == len(ALL)  # one call each: nobody was dialled twice
        assert not [a for a in attempts if a.digit and a.result == "timeout"]
        by_phone = {a.phone: a for a in attempts}
        got = entries(service, campaign_id)
        for phone in PRESS_1:
            assert (by_phone[phone].result, by_phone[phone].digit) == ("answered", "1")
            assert (got[phone].status, got[phone].confirmation_digit) == ("notified", "1")
            assert got[phone].lease_owner == ""
        assert got[PRESS_9[0]].status == "do_not_call"
        for phone in SILENT:
            assert by_phone[phone].result == "answered"
            assert (got[phone].status, got[phone].last_result) == (
                "pending",
                "answered_no_confirmation",
            )
        for phone in BUSY:  # the run may have settled these itself before it died
            assert (by_phone[phone].result, got[phone].status) == ("busy", "pending")
            assert by_phone[phone].cause == 17
        assert all(a.call_id is not None for a in attempts)  # linked to the PBX's record


async def test_a_digit_stored_after_the_timeout_still_counts(db_url: str) -> None:
    """Nothing was heard of the call when the lease expired (timeout); its digit came later."""
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service, max_attempts=1)
        phone = "+79165540001"
        (entry_id,) = add_entries(service, campaign_id, [phone])
        clock = Clock(datetime.now(UTC))
        with sessions_of(service).begin() as session:
            row = session.get(Campaign, campaign_id)
            assert row is not None
            (leased,) = lease_due(
                session,
                CampaignPlan.of(row),
                owner="dead-run",
                run_id="dead-run",
                now=clock(),
                limit=1,
                lease_seconds=30,
            )
        clock.advance(31)
        async with simulated_outbound(service, {}) as sim:
            summary, _ = await dial(service, clock)  # its last attempt: closed, not dialled
            assert summary.placed == 0 and sim.dialled[phone.lstrip("+")] == 0
        (attempt,) = _attempts(service)
        assert attempt.result == "timeout"
        assert entries(service, campaign_id)[phone].status == "not_notified"
        # res_agi's notify dialogue for that call, late: the applicant pressed 1
        dialogue = NotifyDialogue(leased.channel_id, "1")
        await _play_notify(
            "127.0.0.1",
            agi_port(service),
            dialogue,
            "PJSIP/trunk-00000001",
            phone.lstrip("+"),
            {"CALLAGENT_ENTRY_ID": str(entry_id), "CALLAGENT_ATTEMPT_ID": str(leased.attempt_id)},
        )
        assert dialogue.set.get("CALLAGENT_NOTIFY_DIGIT") == "1"
        clock.advance(1)
        async with simulated_outbound(service, {}):
            summary, _ = await dial(service, clock)
            assert summary.placed == 0
        (attempt,) = _attempts(service)
        assert (attempt.result, attempt.digit) == ("answered", "1")
        got = entries(service, campaign_id)[phone]
        assert (got.status, got.confirmation_digit) == ("notified", "1")


def test_what_the_pbx_reported_decides_the_result() -> None:
    """campaigns.results.reported: the stored facts of a call, as its run would have seen them."""
    from callagent.campaigns.results import reported

    def result(**facts: object) -> str:
        values: dict[str, object] = {
            "digit": "",
            "missing_prompt": "",
            "answered": False,
            "cause": None,
            "variables": {},
            "operator_answered": False,
        }
        values.update(facts)
        return reported("a", "c", **values).result  # type: ignore[arg-type]

    assert result(cause=17) == "busy"
    assert result(cause=19) == "no_answer"
    assert result(cause=34) == "congestion"
    assert result(answered=True, cause=16) == "answered"
    # a digit means someone answered, whatever the record says (or if there is none)
    assert result(digit="1") == "answered"
    assert (
        reported(
            "a",
            "c",
            digit="",
            missing_prompt="",
            answered=True,
            cause=16,
            variables={"CALLAGENT_NOTIFY_DIGIT": "9"},
            operator_answered=False,
        ).digit
        == "9"
    )
    assert result(answered=True, variables={"CALLAGENT_NOTIFY_STATUS": "prompt_missing"}) == (
        "prompt_missing"
    )
    assert result(missing_prompt="callagent/notify-ready") == "prompt_missing"
