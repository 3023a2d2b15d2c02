"""A running campaign follows changes to its schedule at once, says why it dials nobody,
and counts as "in progress" only the calls actually placed (issue #17, items 4 and 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from callagent.campaigns.lease import CampaignPlan, lease_due
from callagent.db.campaign_models import Campaign, NotificationAttempt, RegistryEntry
from tests.conftest import RunningService, running_service
from tests.test_dialer import (
    ALWAYS,
    Clock,
    _campaign_row,
    add_entries,
    dial,
    entries,
    make_campaign,
    sessions_of,
    simulated_outbound,
)

MOSCOW = ZoneInfo("Europe/Moscow")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PHONES = ["+79165100001", "+79165100002", "+79165100003"]


def closed_now(now: datetime) -> dict[str, list[list[str]]]:
    """A window of one hour every day, opening 12 hours from ``now`` in Moscow: closed now."""
    opens = (now.astimezone(MOSCOW) + timedelta(hours=12)).replace(minute=0, second=0)
    span = [f"{opens:%H}:00", f"{(opens + timedelta(hours=1)):%H}:00".replace("00:00", "24:00")]
    return {day: [span] for day in DAYS}


class RealClock(Clock):
    """The dialer's clock at the real time (the API stamps changes with it)."""

    def __call__(self) -> datetime:
        return datetime.now(UTC)


async def progress(service: RunningService, campaign_id: int) -> dict[str, Any]:
    response = await service.client.get(f"/api/v1/campaigns/{campaign_id}/progress")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def last_end(service: RunningService) -> datetime:
    with sessions_of(service)() as session:
        ended = session.scalar(select(func.max(NotificationAttempt.ended_at)))
    assert ended is not None
    return ended


async def test_a_new_window_makes_the_deferred_entries_due_at_once(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        now = datetime.now(UTC)
        campaign_id = make_campaign(service, window=closed_now(now))
        add_entries(service, campaign_id, PHONES)
        async with simulated_outbound(service, {}) as sim:
            summary, _ = await dial(service, RealClock())
            assert summary.placed == 0
            deferred = entries(service, campaign_id)
            assert all(e.next_attempt_at and e.next_attempt_at > now for e in deferred.values())
            idle = (await progress(service, campaign_id))["idle"]
            assert idle["reason"] == "outside_window"
            opens = datetime.fromisoformat(idle["until"])
            assert opens > now and opens.utcoffset() == timedelta(hours=3)  # Moscow's time
            assert idle["message"].startswith("outside the calling window until ")
            assert "Europe/Moscow" in idle["message"]

            changed = await service.client.patch(
                f"/api/v1/campaigns/{campaign_id}", json={"window": ALWAYS}
            )
            assert changed.status_code == 200, changed.text
            assert all(e.next_attempt_at is None for e in entries(service, campaign_id).values())
            assert (await progress(service, campaign_id))["idle"] is None  # entries are due
            summary, _ = await dial(service, RealClock())
            assert summary.placed == 3
            assert sorted(sim.dialled) == sorted(p.lstrip("+") for p in PHONES)
        assert (await progress(service, campaign_id))["idle"]["reason"] == "all_done"


async def test_start_again_reschedules_what_an_old_window_deferred(db_url: str) -> None:
    """The window changed without the API (an older version, a database edit): pause and
    start make the entries due again."""
    async with running_service(db_url, campaign_scheduler="off") as service:
        now = datetime.now(UTC)
        campaign_id = make_campaign(service, window=closed_now(now))
        add_entries(service, campaign_id, PHONES)
        async with simulated_outbound(service, {}) as sim:
            assert (await dial(service, RealClock()))[0].placed == 0
            with sessions_of(service).begin() as session:
                row = session.get(Campaign, campaign_id)
                assert row is not None
                row.window = ALWAYS
            assert (await service.client.post(f"/api/v1/campaigns/{campaign_id}/pause")).json()[
                "status"
            ] == "paused"
            idle = (await progress(service, campaign_id))["idle"]
            assert (idle["reason"], idle["message"]) == ("paused", "paused: press start to go on")
            started = await service.client.post(f"/api/v1/campaigns/{campaign_id}/start")
            assert started.json()["status"] == "running"
            assert (await dial(service, RealClock()))[0].placed == 3
            assert len(sim.dialled) == 3


async def test_a_rescheduled_entry_keeps_its_retry_time(db_url: str) -> None:
    """An entry waiting for its retry after a busy line is not dialled early by a change."""
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service, retry_delays={"busy": 900, "no_answer": 1800})
        add_entries(service, campaign_id, PHONES[:1])
        clock = RealClock()
        async with simulated_outbound(service, {PHONES[0]: "busy"}) as sim:
            assert (await dial(service, clock))[0].placed == 1
            (entry,) = entries(service, campaign_id).values()
            ended = last_end(service)
            assert entry.last_result == "busy"
            retry = entry.next_attempt_at
            assert retry == ended + timedelta(seconds=900)
            idle = (await progress(service, campaign_id))["idle"]
            assert idle["reason"] == "not_due"
            assert datetime.fromisoformat(idle["until"]) == retry
            # a longer window and shorter busy retry: due 300 s after the call, not at once
            changed = await service.client.patch(
                f"/api/v1/campaigns/{campaign_id}",
                json={"holidays": [], "retry_delays": {"busy": 300, "no_answer": 1800}},
            )
            assert changed.status_code == 200, changed.text
            (entry,) = entries(service, campaign_id).values()
            assert entry.next_attempt_at == ended + timedelta(seconds=300)
            assert (await dial(service, clock))[0].placed == 0
            assert sim.dialled[PHONES[0].lstrip("+")] == 1


async def test_calls_in_progress_are_the_calls_placed(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service, max_concurrent=10)
        phones = [f"+7916520{n:04d}" for n in range(12)]
        add_entries(service, campaign_id, phones)
        plan = CampaignPlan.of(_campaign_row(service, campaign_id))
        with sessions_of(service).begin() as session:  # a dialer leased them, sent nothing
            leased = lease_due(
                session,
                plan,
                owner="r",
                run_id="r",
                now=datetime.now(UTC),
                limit=12,
                lease_seconds=30,
            )
        assert len(leased) == 12
        got = await progress(service, campaign_id)
        assert (got["calls_in_flight"], got["calls_queued"]) == (0, 12)
        assert got["attempts_total"] == 0 and "in_flight" not in got["attempts_by_result"]


async def test_an_attempt_is_stamped_when_its_originate_goes_out(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        # two calls a second (a burst of two): four Originates go out over 1 s, not at the
        # moment they were leased
        campaign_id = make_campaign(service, calls_per_second=2.0, max_concurrent=10)
        phones = [f"+7916530{n:04d}" for n in range(4)]
        add_entries(service, campaign_id, phones)
        async with simulated_outbound(service, {p: "busy" for p in phones}):
            assert (await dial(service, RealClock()))[0].placed == 4
        with sessions_of(service)() as session:
            attempts = session.scalars(
                select(NotificationAttempt).order_by(NotificationAttempt.originated_at)
            ).all()
            rows = {e.id: e for e in session.scalars(select(RegistryEntry))}
        stamps = [a.originated_at for a in attempts]
        assert all(stamps) and len(set(stamps)) == 4
        assert stamps[-1] - stamps[0] >= timedelta(seconds=0.9)  # type: ignore[operator]
        for attempt in attempts:
            assert attempt.started_at == attempt.originated_at
            assert rows[attempt.entry_id].last_call_at == attempt.originated_at
