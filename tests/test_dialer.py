"""The campaign dialer end to end: real AMI and FastAGI against the PBX simulator.

A controllable clock drives windows, leases and retry times; pacing and timeouts
run in real (short) time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from callagent.campaigns.dialer import Dialer, DialerConfig, RunSummary
from callagent.campaigns.lease import CampaignPlan, lease_due, release_unsent
from callagent.campaigns.registry_import import import_registry
from callagent.campaigns.scheduler import ami_client
from callagent.campaigns.window import number_zone
from callagent.db.campaign_models import (
    Campaign,
    DoNotCall,
    NotificationAttempt,
    RegistryEntry,
    RegistryImport,
)
from callagent.db.models import Call, WebhookDelivery, WebhookSubscription
from callagent.sim.outbound import OutboundPbx, demo_outcome, outcome_plan
from tests.conftest import TRACES, RunningService, running_service, wait_for
from tests.test_routing import add_operators, agi_port, set_ready

ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
MONDAY_NOON_UTC = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 15:00 Moscow, 22:00 Vladivostok


@dataclass
class Clock:
    """The dialer's now(), moved by the test."""

    now: datetime = MONDAY_NOON_UTC

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def sessions_of(service: RunningService) -> Any:
    return service.app.state.sessions  # type: ignore[attr-defined]


def make_campaign(service: RunningService, name: str = "docs", **values: Any) -> int:
    fields: dict[str, Any] = {
        "name": name,
        "mode": "message",
        "status": "running",
        "office_timezone": "Europe/Moscow",
        "window": ALWAYS,
        "holidays": [],
        "max_concurrent": 10,
        "max_attempts": 3,
        "calls_per_second": 200.0,
        "caller_id": '"Docs Ready" <74950000000>',
    }
    fields.update(values)
    with sessions_of(service).begin() as session:
        campaign = Campaign(**fields)
        session.add(campaign)
        session.flush()
        return int(campaign.id)


def add_entries(service: RunningService, campaign_id: int, phones: list[str]) -> list[int]:
    """Entries straight in the database (one registry import row holds them)."""
    with sessions_of(service).begin() as session:
        record = RegistryImport(
            campaign_id=campaign_id,
            filename="direct.csv",
            sha256=f"{campaign_id:064d}",
            rows_total=len(phones),
            rows_imported=len(phones),
        )
        session.add(record)
        session.flush()
        entries = [
            RegistryEntry(
                campaign_id=campaign_id,
                import_id=record.id,
                row_number=n + 2,
                dedupe_key=phone,
                applicant_name=f"Applicant {n}",
                phones=[phone],
                phone_timezones=[number_zone(phone)],  # as the import stores it
                case_number=f"C-{n:04d}",
                office="Office 1",
            )
            for n, phone in enumerate(phones)
        ]
        session.add_all(entries)
        session.flush()
        return [e.id for e in entries]


def subscribe(service: RunningService) -> None:
    with sessions_of(service).begin() as session:
        session.add(
            WebhookSubscription(
                url="http://127.0.0.1:9/hook",
                secret="s" * 32,
                event_types=["notification.result"],
                active=True,
                created_at=datetime.now(UTC),
            )
        )


def entries(service: RunningService, campaign_id: int) -> dict[str, RegistryEntry]:
    with sessions_of(service)() as session:
        rows = session.scalars(
            select(RegistryEntry).where(RegistryEntry.campaign_id == campaign_id)
        ).all()
        return {row.phones[0]: row for row in rows if row.phones}


@contextlib.asynccontextmanager
async def simulated_outbound(
    service: RunningService, plan: dict[str, Any], speed: float = 20.0
) -> AsyncIterator[OutboundPbx]:
    sim = OutboundPbx(
        service.pbx, TRACES, outcome=outcome_plan(plan), agi_port=agi_port(service), speed=speed
    )
    try:
        yield sim
    finally:
        await sim.stop()


async def dial(
    service: RunningService,
    clock: Clock,
    *,
    campaigns: list[str] | None = None,
    preview: Any = None,
    **config: Any,
) -> tuple[RunSummary, Dialer]:
    """One `campaign run`: its own AMI connection, until nothing is due."""
    values: dict[str, Any] = {
        "ring_timeout": 30.0,
        "response_timeout": 3.0,
        "lease_seconds": 60.0,
        "failure_grace": 0.5,
    }
    values.update(config)
    dialer = Dialer(
        sessions_of(service),
        campaigns=campaigns,
        config=DialerConfig(**values),
        clock=clock,
        book=service.app.state.book,  # type: ignore[attr-defined]
        preview=preview,
    )
    client = ami_client(service.settings.ami_nodes[0], service.settings, dialer)
    task = asyncio.create_task(client.run())
    try:
        await wait_for(lambda: client.connected)
        summary = await asyncio.wait_for(dialer.run(), 60)
    finally:
        await client.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return summary, dialer


def _campaign_row(service: RunningService, campaign_id: int) -> Campaign:
    with sessions_of(service)() as session:
        row = session.get(Campaign, campaign_id)
        assert row is not None
        return row


def originates(service: RunningService, number: str) -> int:
    return sum(
        1
        for a in service.pbx.actions
        if a.action == "Originate" and number.lstrip("+") in a.get("Channel")
    )


REGISTRY = (
    b"Name,Phone,Case number,Office\n"
    b"Ivanova Maria,+7 916 100-00-01,C-1,Office 1\n"
    b"Petrov Ivan,+7 916 100-00-02,C-2,Office 1\n"
    b"Sidorova Anna,+7 916 100-00-03,C-3,Office 1\n"
    b"Kuznetsov Oleg,+7 916 100-00-04,C-4,Office 1\n"
    b"Smirnova Olga,+7 916 100-00-05,C-5,Office 1\n"
    b"Popov Pavel,+7 916 100-00-06,C-6,Office 1\n"
    b"Volkova Irina,+7 916 100-00-07,C-7,Office 1\n"
    b"Not A Number,12,C-8,Office 1\n"
)
PLAN = {
    "+79161000001": "answered:1",
    "+79161000002": "answered:2",
    "+79161000003": "answered:9",
    "+79161000004": "answered:none",
    "+79161000005": ["busy", "busy", "answered:1"],
    "+79161000006": "no_answer",
    "+79161000007": "failed",
}


async def test_a_campaign_end_to_end(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        ops = add_operators(service, 2)
        await set_ready(service, ops)
        subscribe(service)
        campaign_id = make_campaign(service)
        with sessions_of(service)() as session:
            outcome = import_registry(
                session, campaign_id=campaign_id, data=REGISTRY, filename="registry.csv"
            )
            assert outcome.record.rows_imported == 7 and outcome.record.rows_rejected == 1
        clock = Clock()
        async with simulated_outbound(service, PLAN) as sim:
            summary, _ = await dial(service, clock, ring_timeout=10.0)
            assert summary.placed == 7 and summary.stopped == "nothing_due"
            assert summary.results == {
                "answered": 4,
                "busy": 1,
                "no_answer": 1,
                "failed": 1,
            }
            got = entries(service, campaign_id)
            status = {
                phone: (e.status, e.last_result, e.confirmation_digit) for phone, e in got.items()
            }
            assert status == {
                "+79161000001": ("notified", "answered", "1"),
                "+79161000002": ("notified", "answered_operator", "2"),
                "+79161000003": ("do_not_call", "answered", "9"),
                "+79161000004": ("pending", "answered_no_confirmation", ""),
                "+79161000005": ("pending", "busy", ""),
                "+79161000006": ("pending", "no_answer", ""),
                "+79161000007": ("pending", "failed", ""),
            }
            now = clock.now
            assert got["+79161000005"].next_attempt_at == now + timedelta(seconds=900)
            assert got["+79161000006"].next_attempt_at == now + timedelta(seconds=1800)
            assert got["+79161000004"].next_attempt_at == now + timedelta(seconds=1800)
            assert all(e.attempts == 1 and not e.lease_owner for e in got.values())
            with sessions_of(service)() as session:
                assert session.get(DoNotCall, "+79161000003") is not None
                attempts = session.scalars(select(NotificationAttempt)).all()
                by_phone = {a.phone: a for a in attempts}
                assert by_phone["+79161000005"].cause == 17
                assert by_phone["+79161000007"].cause == 38
                assert by_phone["+79161000001"].digit == "1"  # stored by the notify script
                assert all(
                    a.channel_id and a.action_id.startswith("callagent-n-") for a in attempts
                )
                hooks = session.scalars(
                    select(WebhookDelivery).where(
                        WebhookDelivery.event_type == "notification.result"
                    )
                ).all()
                assert len(hooks) == 7
                assert {h.payload["data"]["result"] for h in hooks} == {
                    "answered",
                    "busy",
                    "no_answer",
                    "failed",
                }
                assert all("phone" not in h.payload["data"] for h in hooks)
            # the notify script asked for the digit and told the dialplan
            heard = {d.digit: d.set.get("CALLAGENT_NOTIFY_DIGIT") for d in sim.dialogues}
            assert heard == {"1": "1", "2": "2", "9": "9", "": ""}
            assert any(c.startswith("GET DATA") for d in sim.dialogues for c in d.commands)

            # nothing is due 10 minutes later
            clock.advance(600)
            summary, _ = await dial(service, clock)
            assert summary.placed == 0
            # every attempt is stored with its call record (the service's listener wrote it)
            with sessions_of(service)() as session:
                linked = session.execute(
                    select(NotificationAttempt.channel_id, Call.linkedid, Call.variables).join(
                        Call, Call.id == NotificationAttempt.call_id
                    )
                ).all()
                assert len(linked) == 7
                assert all(channel == linkedid for channel, linkedid, _ in linked)
                assert all("CALLAGENT_ENTRY_ID" in variables for *_, variables in linked)
            # 15 minutes: the busy one again (busy again)
            clock.advance(300)
            summary, _ = await dial(service, clock)
            assert summary.placed == 1 and summary.results == {"busy": 1}
            # 30 minutes after the first run: no digit, no answer, failed, and busy's third
            # try (15 minutes after its second), which answers with 1
            clock.advance(900)
            summary, _ = await dial(service, clock)
            assert summary.placed == 4, dict(sim.dialled)
            assert originates(service, "+79161000005") == 3
            got = entries(service, campaign_id)
            assert (got["+79161000005"].status, got["+79161000005"].attempts) == ("notified", 3)
            # 30 minutes later: the third tries of the rest exhaust them
            clock.advance(1800)
            summary, _ = await dial(service, clock)
            assert summary.placed == 3
            got = entries(service, campaign_id)
            for number, last in (
                ("+79161000004", "answered_no_confirmation"),
                ("+79161000006", "no_answer"),
                ("+79161000007", "failed"),
            ):
                assert (got[number].status, got[number].last_result, got[number].attempts) == (
                    "not_notified",
                    last,
                    3,
                )
            clock.advance(86400)
            summary, _ = await dial(service, clock)
            assert summary.placed == 0  # everything is final or out of attempts
            for number in ("+79161000001", "+79161000002", "+79161000003"):
                assert originates(service, number) == 1


async def test_the_window_is_the_applicants_own(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        window = {day: [["09:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
        campaign_id = make_campaign(service, window=window, holidays=["2026-11-24"])
        add_entries(service, campaign_id, ["+74951234567", "+74232123456"])  # Moscow, Vladivostok
        clock = Clock()  # Monday 15:00 in Moscow, 22:00 in Vladivostok
        async with simulated_outbound(service, {}) as sim:
            summary, _ = await dial(service, clock)
            assert summary.placed == 1
            assert dict(sim.dialled) == {"74951234567": 1}
            got = entries(service, campaign_id)
            # Tuesday is a holiday: Wednesday 09:00 in Vladivostok = Tuesday 23:00 UTC
            assert got["+74232123456"].next_attempt_at == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
            assert got["+74232123456"].attempts == 0
            clock.now = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 02:30 Wednesday in Moscow
            summary, _ = await dial(service, clock)
            assert summary.placed == 1 and sim.dialled["74232123456"] == 1
            clock.now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # Saturday: closed
            with sessions_of(service).begin() as session:
                for entry in session.scalars(select(RegistryEntry)):
                    entry.status, entry.next_attempt_at = "pending", None
            summary, _ = await dial(service, clock)
            assert summary.placed == 0


async def test_two_runs_at_once_never_dial_one_entry_twice(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service, max_concurrent=8)
        phones = [f"+7916200{n:04d}" for n in range(40)]
        add_entries(service, campaign_id, phones)
        clock = Clock()
        async with simulated_outbound(service, {}, speed=200.0) as sim:
            (first, _), (second, _) = await asyncio.gather(
                dial(service, clock), dial(service, clock)
            )
            assert first.placed + second.placed == 40
            assert first.placed and second.placed  # both runs dialled
            assert sorted(sim.dialled) == sorted(p.lstrip("+") for p in phones)
            assert set(sim.dialled.values()) == {1}
            with sessions_of(service)() as session:
                assert session.scalar(select(func.count()).select_from(NotificationAttempt)) == 40
            assert all(e.status == "notified" for e in entries(service, campaign_id).values())


async def test_an_unanswered_originate_is_never_sent_again(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service)
        add_entries(service, campaign_id, ["+79163000001"])
        service.pbx.silent_actions = {"originate"}  # Asterisk goes away before answering
        clock = Clock()

        async def drop_after_originate() -> None:
            def sent() -> bool:
                return any(
                    a.action == "Originate" for c in service.pbx.connections for a in c.actions
                )

            await wait_for(sent)
            (conn,) = [
                c
                for c in service.pbx.connections
                if any(a.action == "Originate" for a in c.actions)
            ]
            conn.writer.close()

        dropper = asyncio.create_task(drop_after_originate())
        summary, _dialer = await dial(service, clock, response_timeout=2.0, ring_timeout=5.0)
        await dropper
        assert summary.results == {"timeout": 1}
        await asyncio.sleep(0.5)  # time for a reconnect to re-send anything (it must not)
        assert originates(service, "+79163000001") == 1
        got = entries(service, campaign_id)["+79163000001"]
        assert (got.status, got.last_result, got.attempts) == ("pending", "timeout", 1)
        with sessions_of(service)() as session:
            (attempt,) = session.scalars(select(NotificationAttempt)).all()
            assert attempt.result == "timeout"


async def test_a_killed_run_leaves_nothing_stuck(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service)
        add_entries(service, campaign_id, ["+79164000001"])
        clock = Clock()
        # What a run killed mid-call leaves behind (the CLI test kills a real process):
        # the entry leased, its attempt stored without a result.
        plan = CampaignPlan.of(_campaign_row(service, campaign_id))
        with sessions_of(service).begin() as session:
            (_leased,) = lease_due(
                session,
                plan,
                owner="dead-run",
                run_id="dead-run",
                now=clock(),
                limit=5,
                lease_seconds=30,
            )
        got = entries(service, campaign_id)["+79164000001"]
        assert (got.status, got.lease_owner, got.attempts) == ("in_progress", "dead-run", 1)
        async with simulated_outbound(service, {}) as sim:
            summary, _ = await dial(service, clock)
            assert summary.placed == 0  # the lease still holds
            clock.advance(31)
            summary, _ = await dial(service, clock)
            assert summary.placed == 1 and sim.dialled["79164000001"] == 1
        got = entries(service, campaign_id)["+79164000001"]
        assert (got.status, got.attempts) == ("notified", 2)
        with sessions_of(service)() as session:
            results = sorted(a.result for a in session.scalars(select(NotificationAttempt)))
            assert results == ["answered", "timeout"]


async def test_leased_but_unsent_entries_go_back_untouched(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service)
        phones = ["+79164100001", "+79164100002", "+79164100003"]
        add_entries(service, campaign_id, phones)
        plan = CampaignPlan.of(_campaign_row(service, campaign_id))
        with sessions_of(service).begin() as session:
            leased = lease_due(
                session,
                plan,
                owner="run-a",
                run_id="run-a",
                now=Clock()(),
                limit=3,
                lease_seconds=30,
            )
        assert len(leased) == 3
        with sessions_of(service).begin() as session:  # another run took the third meanwhile
            taken = session.get(RegistryEntry, leased[2].entry_id)
            assert taken is not None
            taken.lease_owner = "run-b"
        with sessions_of(service).begin() as session:
            release_unsent(session, leased, owner="run-a")
        got = entries(service, campaign_id)
        for item in leased[:2]:
            entry = got[item.phone]
            assert (entry.status, entry.lease_owner, entry.attempts) == ("pending", "", 0)
            assert entry.lease_until is None
        assert (got[leased[2].phone].lease_owner, got[leased[2].phone].attempts) == (
            "run-b",
            1,
        )
        with sessions_of(service)() as session:  # never dialled: no attempt stays
            assert session.scalar(select(func.count()).select_from(NotificationAttempt)) == 0


async def test_refused_originates_back_off_and_burn_no_attempt(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service)
        add_entries(service, campaign_id, ["+79165000001", "+79165000002"])
        clock = Clock()
        plan = {
            "+79165000001": ["refused", "answered:1"],
            "+79165000002": ["refused", "answered:1"],
        }
        async with simulated_outbound(service, plan):
            summary, _ = await dial(service, clock)
            assert summary.refused == 2 and summary.placed == 2 and not summary.results
            stamps = [a for a in service.pbx.actions if a.action == "Originate"]
            assert len(stamps) == 2
            got = entries(service, campaign_id)
            assert all(e.attempts == 0 and e.status == "pending" for e in got.values())
            clock.advance(5)
            summary, _ = await dial(service, clock)
            assert summary.results == {"answered": 2}
            got = entries(service, campaign_id)
            assert all(e.attempts == 1 and e.status == "notified" for e in got.values())


async def test_refusals_pause_the_dialer(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service, max_concurrent=1)  # one call at a time
        add_entries(service, campaign_id, ["+79166000001", "+79166000002"])
        clock = Clock()
        moments: list[float] = []
        loop = asyncio.get_running_loop()
        async with simulated_outbound(service, {}, speed=50.0) as sim:
            original = sim.on_originate

            def first_refused(conn: Any, action: Any) -> list[bytes]:
                moments.append(loop.time())
                if len(moments) == 1:
                    sim.outcome = lambda number, attempt: "refused"
                    out = original(conn, action)
                    sim.outcome = lambda number, attempt: "answered:1"
                    return out
                return original(conn, action)

            service.pbx.originate_handler = first_refused
            summary, _ = await dial(service, clock)
            assert summary.refused == 1 and summary.results == {"answered": 1}
            assert moments[1] - moments[0] >= 0.9  # the pause after a refusal


async def test_operator_mode_offers_the_entry_to_an_operator_first(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        (op,) = add_operators(service, 1)
        await set_ready(service, [op])
        campaign_id = make_campaign(service, name="docs-op", mode="operator")
        add_entries(service, campaign_id, ["+79161110001"])
        shown: list[tuple[int, dict[str, Any]]] = []
        async with simulated_outbound(service, {}):
            summary, _ = await dial(
                service, Clock(), preview=lambda user, data: shown.append((user, data))
            )
        assert summary.results == {"answered": 1}
        (action,) = [a for a in service.pbx.actions if a.action == "Originate"]
        assert (action["Channel"], action["Context"], action["Exten"]) == (
            "PJSIP/op1001",
            "from-operators",
            "79161110001",
        )
        assert "CALLAGENT_ENTRY_ID=1" in action.getall("Variable")
        ((user, data),) = shown  # the operator saw the entry before the call
        assert user == op and data["case_number"] == "C-0000"
        assert data["category_hint"] == "document_notification"
        got = entries(service, campaign_id)["+79161110001"]
        assert (got.status, got.lease_owner) == ("in_progress", "wrapup")

        async def pending() -> list[dict[str, Any]]:
            response = await service.client.get(
                "/api/v1/wrapups/pending", params={"operator_id": op}
            )
            return list(response.json())

        await wait_for(pending)
        (wrapup,) = await pending()
        assert wrapup["category_hint"] == "document_notification"
        submitted = await service.client.post(
            f"/api/v1/wrapups/{wrapup['id']}/submit",
            json={
                "category": "document_notification",
                "fields": {"result": "notified", "comment": "will come on Monday"},
                "operator_id": op,
            },
        )
        assert submitted.status_code in (200, 201), submitted.text
        got = entries(service, campaign_id)["+79161110001"]
        assert (got.status, got.operator_comment, got.lease_owner) == (
            "notified",
            "will come on Monday",
            "",
        )


EXPECTED = {
    "answered:1": ("notified", "answered"),
    "answered:2": ("notified", "answered_operator"),
    "answered:9": ("do_not_call", "answered"),
    "answered:none": ("pending", "answered_no_confirmation"),
    "busy": ("pending", "busy"),
    "no_answer": ("pending", "no_answer"),
    "congestion": ("pending", "congestion"),
}


async def test_make_run_dials_running_campaigns_by_itself(db_url: str) -> None:
    """The service's scheduler against `make run`'s built-in simulator."""
    async with running_service(
        db_url,
        ami_nodes=[],
        simulator="auto",
        simulator_call_interval=1000.0,
        simulator_speed=20.0,
        campaign_scheduler="on",
        campaign_poll_interval=0.2,
    ) as service:
        numbers: dict[str, str] = {}
        for n in range(200):  # one number for each outcome of the demo's mix
            phone = f"+7916555{n:04d}"
            numbers.setdefault(demo_outcome(phone.lstrip("+"), 1), phone)
        assert set(numbers) == set(EXPECTED)
        campaign_id = make_campaign(service)
        add_entries(service, campaign_id, list(numbers.values()))

        def settled() -> bool:
            got = entries(service, campaign_id).values()
            return all(e.attempts == 1 and e.status != "in_progress" for e in got)

        await wait_for(settled, timeout=30)
        got = entries(service, campaign_id)
        for outcome, phone in numbers.items():
            assert (got[phone].status, got[phone].last_result) == EXPECTED[outcome], outcome


async def test_the_message_through_a_tts_command(db_url: str, tmp_path: Path) -> None:
    tts = "sh -c 'cat > \"$1\"' tts {file}"  # a stand-in TTS: the text itself as the "sound"
    async with running_service(
        db_url, campaign_scheduler="off", tts_command=tts, tts_dir=str(tmp_path)
    ) as service:
        message = {"text": "Documents for case {case_number} are ready at {office}, {hours}"}
        message["hours"] = "9:00-18:00"
        campaign_id = make_campaign(service, message=message)
        add_entries(service, campaign_id, ["+79167770001"])
        plain = make_campaign(service, name="plain")
        add_entries(service, plain, ["+79167770002"])
        async with simulated_outbound(service, {}) as sim:
            summary, _ = await dial(service, Clock())
        assert summary.results == {"answered": 2}
        ((sound, text),) = _sounds(tmp_path)
        assert text == "Documents for case C-0000 are ready at Office 1, 9:00-18:00"
        by_entry = {d.set.get("CALLAGENT_NOTIFY_DIGIT"): d for d in sim.dialogues}
        commands = [c for d in sim.dialogues for c in d.commands]
        assert f'STREAM FILE {sound.with_suffix("")} "129"' in commands
        # without text: the prompt files and the case number's digits
        assert 'STREAM FILE callagent/notify-ready "129"' in commands
        assert 'SAY DIGITS 0000 "129"' in commands
        assert by_entry["1"] is not None


def _sounds(folder: Path) -> list[tuple[Path, str]]:
    return [(path, path.read_text()) for path in folder.glob("notify-*.wav")]


async def test_pausing_a_campaign_stops_its_calls(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service, max_concurrent=1)
        add_entries(service, campaign_id, [f"+7916444000{n}" for n in range(6)])
        async with simulated_outbound(service, {}, speed=5.0):  # ~1 s a call
            run = asyncio.create_task(dial(service, Clock()))
            await wait_for(lambda: originates(service, "+79164440000") == 1)
            with sessions_of(service).begin() as session:
                campaign = session.get(Campaign, campaign_id)
                assert campaign is not None
                campaign.status = "paused"
            summary, _ = await run
        assert summary.stopped == "paused" and 1 <= summary.placed < 6
        got = entries(service, campaign_id).values()
        assert sum(e.status == "pending" and e.attempts == 0 for e in got) >= 6 - summary.placed
        assert not [e for e in got if e.status == "in_progress"]  # nothing left leased


async def test_operator_mode_without_a_free_operator_dials_nobody(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service, name="docs-op", mode="operator")
        add_entries(service, campaign_id, ["+79161110002"])
        async with simulated_outbound(service, {}):
            summary, _ = await dial(service, Clock())
        assert summary.refused == 1 and not summary.results
        assert not [a for a in service.pbx.actions if a.action == "Originate"]
        got = entries(service, campaign_id)["+79161110002"]
        assert (got.status, got.attempts, got.lease_owner) == ("pending", 0, "")


async def test_a_number_put_on_do_not_call_is_not_dialled_by_any_campaign(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        first = make_campaign(service, name="first")
        second = make_campaign(service, name="second")
        add_entries(service, first, ["+79162220001"])
        add_entries(service, second, ["+79162220001", "+79162220002"])
        async with simulated_outbound(service, {"+79162220001": "answered:9"}) as sim:
            await dial(service, Clock(), campaigns=["first"])
            summary, _ = await dial(service, Clock(), campaigns=["second"])
        assert summary.placed == 1 and sim.dialled["79162220001"] == 1
        got = entries(service, second)
        assert (got["+79162220001"].status, got["+79162220001"].attempts) == ("do_not_call", 0)
        assert got["+79162220002"].status == "notified"


async def test_the_service_stops_without_waiting_for_calls_in_flight(db_url: str) -> None:
    loop = asyncio.get_running_loop()
    phone = next(
        f"+7916556{n:04d}"
        for n in range(200)
        if demo_outcome(f"7916556{n:04d}", 1) == "no_answer"  # rings 30 s
    )
    async with running_service(
        db_url,
        ami_nodes=[],
        simulator="auto",
        simulator_call_interval=1000.0,
        campaign_scheduler="on",
        campaign_poll_interval=0.2,
    ) as service:
        campaign_id = make_campaign(service)
        add_entries(service, campaign_id, [phone])
        await wait_for(lambda: entries(service, campaign_id)[phone].status == "in_progress")
        stopping = loop.time()
    assert loop.time() - stopping < 5  # the ringing call did not hold the shutdown


async def test_a_cron_run_ends_when_the_pbx_stays_away(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service, max_concurrent=1)
        add_entries(service, campaign_id, ["+79168880001", "+79168880002"])
        service.pbx.silent_actions = {"originate"}

        async def pbx_goes_away() -> None:
            await wait_for(lambda: originates(service, "+79168880001") == 1)
            await service.pbx.stop()

        away = asyncio.create_task(pbx_goes_away())
        summary, _ = await dial(service, Clock(), give_up_after=0.5)
        await away
        assert summary.stopped == "ami_lost" and summary.results == {"timeout": 1}
        got = entries(service, campaign_id)
        assert got["+79168880002"].attempts == 0  # nothing dialled without the PBX


async def test_a_campaign_with_a_broken_dial_template_is_not_dialled(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service, dial_template="PJSIP/{phone}@trunk")
        add_entries(service, campaign_id, ["+79168880003"])
        summary, _ = await dial(service, Clock())
        assert summary.placed == 0
        assert entries(service, campaign_id)["+79168880003"].status == "pending"
