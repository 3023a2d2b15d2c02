"""The notify script against the FastAGI dialogues a real Asterisk 22 had (issue #11, point 1).

``live/live_notify_missing_prompts``: no prompt files on the PBX; ``STREAM FILE``
answered ``200 result=-1 endpos=0`` and ``GET DATA`` ``200 result=-1`` at once, and
the old script went on and stored ``no_digit`` (retried as answered_no_confirmation).
``live/live_notify_with_prompts``: the same call with prompts; the 1 came during
the question. Asterisk's side is spoken over TCP to callagent's real FastAGI server:
the recorded environment byte for byte, and for every command the answer Asterisk
gave to that command in the recording (the script's commands differ from the
recorded ones now: escape digits, no second try after a missing prompt). Variants
answer as Asterisk does when a digit ends STREAM FILE / SAY DIGITS. Then the
recorded AMI stream of the same call settles the attempt through the dialer, on
SQLite and PostgreSQL, and the export names the result.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from _pytest.monkeypatch import MonkeyPatch
from sqlalchemy.orm import Session, sessionmaker

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.campaigns.dialer import Dialer
from callagent.campaigns.lease import CampaignPlan, Leased
from callagent.campaigns.notify_agi import NotifyScript
from callagent.campaigns.registry_export import build_sheet
from callagent.campaigns.results import OutcomeBook, entry_update
from callagent.db.campaign_models import (
    Campaign,
    NotificationAttempt,
    RegistryEntry,
    RegistryImport,
)
from callagent.db.session import make_engine, make_sessionmaker
from callagent.routing.agi import FastAgiServer
from callagent.webhooks.outbox import Event
from tests.conftest import LIVE_TRACES

MISSING = "live_notify_missing_prompts"
WITH = "live_notify_with_prompts"
# trace -> (entry = attempt id, ActionID and ChannelId of its recorded Originate, case number)
CALLS = {
    MISSING: (1, "952532681146461493f1c942e1a0e92a", "20260001", "+79161234567"),
    WITH: (2, "1afceac0ba0b48e39ddd45f5b239ab72", "20260002", "+79162223344"),
}
RUN = "run-live"


def chunks(trace: str) -> list[dict[str, Any]]:
    """The recorded FastAGI chunks of the trace's one connection."""
    lines = (LIVE_TRACES / f"{trace}.agi.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _key(command: str) -> str:
    """What identifies a command across versions: verb and its first argument."""
    return " ".join(command.split(" ")[:3])


def recorded_answers(recorded: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Command key -> Asterisk's answers to it in the recording, in order."""
    answers: dict[str, list[str]] = {}
    asked = ""
    for chunk in recorded:
        if chunk["dir"] == ">asterisk":
            asked = _key(chunk["data"].rstrip("\n"))
        elif chunk["dir"] == "asterisk>" and asked:
            answers.setdefault(asked, []).append(chunk["data"])
            asked = ""
    return answers


async def speak_asterisk(
    trace: str, port: int, overrides: dict[str, str] | None = None
) -> list[str]:
    """Asterisk's side of the recorded dialogue against callagent; the commands it got."""
    recorded = chunks(trace)
    answers = recorded_answers(recorded)
    for key, answer in (overrides or {}).items():
        answers[key] = [answer]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    commands: list[str] = []
    try:
        for chunk in recorded:  # the agi_* environment, in the recorded chunks
            if chunk["dir"] != "asterisk>":
                break
            writer.write(chunk["data"].encode())
        await writer.drain()
        while True:
            async with asyncio.timeout(10):
                raw = await reader.readline()
            if not raw:
                return commands  # callagent ended the dialogue
            command = raw.decode().rstrip("\n")
            commands.append(command)
            queue = answers.get(_key(command))
            assert queue, f"Asterisk never answered {command!r} in {trace}"
            writer.write((queue.pop(0) if len(queue) > 1 else queue[0]).encode())
            await writer.drain()
    finally:
        writer.close()


@dataclass
class Pbx:
    sessions: sessionmaker[Session]
    server: FastAgiServer


@pytest.fixture
async def notify(db_url: str) -> Any:
    """The two recorded entries and attempts in a real database, callagent's FastAGI on TCP."""
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        campaign = Campaign(id=1, name="Docs ready live", status="running")
        session.add(campaign)
        session.flush()
        session.add(
            RegistryImport(id=1, campaign_id=1, sha256="0" * 64, columns=["Телефон", "Номер дела"])
        )
        session.flush()
        for entry_id, hexid, case, phone in CALLS.values():
            session.add(
                RegistryEntry(
                    id=entry_id,
                    campaign_id=1,
                    import_id=1,
                    row_number=entry_id,
                    dedupe_key=case,
                    phones=[phone],
                    case_number=case,
                    raw={"Телефон": phone, "Номер дела": case},
                    status="in_progress",
                    attempts=1,
                    lease_owner=RUN,
                    lease_until=datetime.now(UTC) + timedelta(minutes=2),
                )
            )
            session.flush()
            session.add(
                NotificationAttempt(
                    id=entry_id,
                    campaign_id=1,
                    entry_id=entry_id,
                    phone=phone,
                    action_id=f"callagent-n-{hexid}",
                    channel_id=f"cn-{hexid}",
                    run_id=RUN,
                )
            )
    server = FastAgiServer({"notify": NotifyScript(sessions)}, port=0, command_timeout=5)
    await server.start()
    try:
        yield Pbx(sessions, server)
    finally:
        await server.stop()
        engine.dispose()


def attempt(pbx: Pbx, attempt_id: int) -> NotificationAttempt:
    with pbx.sessions() as session:
        row = session.get(NotificationAttempt, attempt_id)
        assert row is not None
        return row


def entry(pbx: Pbx, entry_id: int) -> RegistryEntry:
    with pbx.sessions() as session:
        row = session.get(RegistryEntry, entry_id)
        assert row is not None
        return row


async def test_missing_prompts_end_the_call_as_prompt_missing(notify: Pbx) -> None:
    commands = await speak_asterisk(MISSING, notify.server.port)
    # the first STREAM FILE answered -1 endpos=0 and no HANGUP followed: nothing more is
    # played (the recording went on for 13.6 s of digits and two GET DATA)
    assert commands == [
        'STREAM FILE callagent/notify-ready "129"',
        'SET VARIABLE CALLAGENT_NOTIFY_DIGIT ""',
        'SET VARIABLE CALLAGENT_NOTIFY_STATUS "prompt_missing"',
    ]
    stored = attempt(notify, 1)
    assert (stored.missing_prompt, stored.digit) == ("callagent/notify-ready", "")


async def test_the_recorded_confirmation_is_stored(notify: Pbx) -> None:
    commands = await speak_asterisk(WITH, notify.server.port)
    assert commands == [
        'STREAM FILE callagent/notify-ready "129"',
        'SAY DIGITS 20260002 "129"',
        "GET DATA callagent/notify-press-1-2-9 5000 1",
        'SET VARIABLE CALLAGENT_NOTIFY_DIGIT "1"',
        'SET VARIABLE CALLAGENT_NOTIFY_STATUS "ok"',
        'STREAM FILE callagent/notify-thank-you ""',
    ]
    assert (attempt(notify, 2).digit, attempt(notify, 2).missing_prompt) == ("1", "")
    assert entry(notify, 2).confirmation_digit == "1"


@pytest.mark.parametrize(
    ("answer", "digit", "closing"),
    [
        # Asterisk's answer when an escape digit ends STREAM FILE: its ASCII code, endpos
        (("STREAM FILE callagent/notify-ready", "200 result=49 endpos=21000\n"), "1", "thank-you"),
        # ... and SAY DIGITS (the recorded 1 of live_notify_missing_prompts came here)
        (("SAY DIGITS 20260002", "200 result=49\n"), "1", "thank-you"),
        (("SAY DIGITS 20260002", "200 result=57\n"), "9", "removed"),
    ],
)
async def test_a_digit_during_the_message_is_the_answer(
    notify: Pbx, answer: tuple[str, str], digit: str, closing: str
) -> None:
    key, reply = answer
    overrides = {key: reply, "STREAM FILE callagent/notify-removed": "200 result=0 endpos=29000\n"}
    commands = await speak_asterisk(WITH, notify.server.port, overrides)
    assert not any(c.startswith("GET DATA") for c in commands)  # nothing left to ask
    assert commands[-3:] == [
        f'SET VARIABLE CALLAGENT_NOTIFY_DIGIT "{digit}"',
        'SET VARIABLE CALLAGENT_NOTIFY_STATUS "ok"',
        f'STREAM FILE callagent/notify-{closing} ""',
    ]
    assert attempt(notify, 2).digit == digit
    assert entry(notify, 2).confirmation_digit == digit


async def test_a_missing_question_is_prompt_missing_too(notify: Pbx) -> None:
    # notify-ready present, notify-press-1-2-9 not: GET DATA answers -1 at once (as recorded)
    overrides = {"GET DATA callagent/notify-press-1-2-9": "200 result=-1\n"}
    commands = await speak_asterisk(WITH, notify.server.port, overrides)
    assert commands[-2:] == [
        'SET VARIABLE CALLAGENT_NOTIFY_DIGIT ""',
        'SET VARIABLE CALLAGENT_NOTIFY_STATUS "prompt_missing"',
    ]
    assert commands.count("GET DATA callagent/notify-press-1-2-9 5000 1") == 1
    assert attempt(notify, 2).missing_prompt == "callagent/notify-press-1-2-9"


async def test_a_hang_up_is_not_a_missing_prompt(notify: Pbx) -> None:
    # res_agi: the channel hung up at the first frame; HANGUP follows the answer at once
    overrides = {"STREAM FILE callagent/notify-ready": "200 result=-1 endpos=0\nHANGUP\n"}
    commands = await speak_asterisk(WITH, notify.server.port, overrides)
    assert commands == ['STREAM FILE callagent/notify-ready "129"']
    assert (attempt(notify, 2).missing_prompt, attempt(notify, 2).digit) == ("", "")


def ami_messages(trace: str, replace: tuple[bytes, bytes] | None = None) -> Iterator[AmiMessage]:
    data = (LIVE_TRACES / f"{trace}.ami").read_bytes()
    if replace is not None:
        assert replace[0] in data
        data = data.replace(*replace)
    for message in AmiParser().feed(data):
        if isinstance(message, AmiMessage):
            yield message


def settle(dialer: Dialer, trace: str, replace: tuple[bytes, bytes] | None = None) -> Any:
    """The recorded AMI stream of the call through the dialer's outcome book."""
    _, hexid, *_ = CALLS[trace]
    dialer.outcomes.watch(f"callagent-n-{hexid}", f"cn-{hexid}")
    settled = []
    for n, message in enumerate(ami_messages(trace, replace)):
        settled += dialer.outcomes.feed(message, float(n))
    (watched,) = settled
    return watched


def store(pbx: Pbx, trace: str) -> None:
    entry_id, hexid, _, phone = CALLS[trace]
    dialer = Dialer(pbx.sessions, owner=RUN)
    watched = settle(dialer, trace)
    with pbx.sessions() as session:
        campaign = session.get(Campaign, 1)
        assert campaign is not None
        plan = CampaignPlan.of(campaign)
    leased = Leased(1, entry_id, entry_id, phone, f"callagent-n-{hexid}", f"cn-{hexid}", 1)
    dialer._finish_many([(plan, leased, watched, watched.result)])


async def test_the_recorded_call_is_stored_as_prompt_missing_and_pauses_the_campaign(
    notify: Pbx, monkeypatch: MonkeyPatch
) -> None:
    sent: list[Event] = []  # the webhook events, as the dialer hands them to the outbox
    monkeypatch.setattr(
        "callagent.campaigns.settle.enqueue_many",
        lambda session, *, event_type, events: sent.extend(events),
    )
    await speak_asterisk(MISSING, notify.server.port)
    store(notify, MISSING)  # its AMI events: answered, hung up 13.6 s later
    stored = attempt(notify, 1)
    assert (stored.result, stored.missing_prompt) == ("prompt_missing", "callagent/notify-ready")
    got = entry(notify, 1)
    # not answered_no_confirmation; the attempt is not counted; due as soon as it runs
    assert (got.status, got.last_result, got.attempts) == ("pending", "prompt_missing", 0)
    assert got.next_attempt_at is not None
    assert got.next_attempt_at.replace(tzinfo=UTC) <= datetime.now(UTC)
    with notify.sessions() as session:
        campaign = session.get(Campaign, 1)
        assert campaign is not None and campaign.status == "paused"
        sheet = build_sheet(session, campaign=campaign, lang="ru")
    (event,) = sent
    row = dict(zip(sheet.headers, sheet.rows[sheet.header_index + 1], strict=True))
    assert row["Последний результат"] == "не проиграно: на АТС нет звукового файла"
    assert row["Попыток"] == 0
    assert event.data["result"] == "prompt_missing"
    assert event.data["missing_prompt"] == "callagent/notify-ready"


async def test_the_recorded_confirmation_notifies_the_entry(notify: Pbx) -> None:
    await speak_asterisk(WITH, notify.server.port)
    store(notify, WITH)
    assert attempt(notify, 2).result == "answered"
    got = entry(notify, 2)
    assert (got.status, got.confirmation_digit, got.attempts) == ("notified", "1", 1)
    with notify.sessions() as session:
        campaign = session.get(Campaign, 1)
        assert campaign is not None and campaign.status == "running"


@pytest.mark.parametrize(
    "replace",
    [
        # the notify script's VarSet as Asterisk reports it
        (b"Value: no_digit", b"Value: prompt_missing"),
        # the dialplan's UserEvent with the Status header of extensions.conf
        (
            b"Digit: \r\nAgiStatus: FAILURE",
            b"Digit: \r\nStatus: prompt_missing\r\nAgiStatus: FAILURE",
        ),
    ],
)
def test_ami_alone_says_prompt_missing(replace: tuple[bytes, bytes]) -> None:
    book = OutcomeBook()
    _, hexid, *_ = CALLS[MISSING]
    book.watch(f"callagent-n-{hexid}", f"cn-{hexid}")
    settled = []
    for n, message in enumerate(ami_messages(MISSING, replace)):
        settled += book.feed(message, float(n))
    (item,) = settled
    assert item.result == "prompt_missing"


def test_the_old_recording_is_an_answer_without_a_digit() -> None:
    book = OutcomeBook()
    _, hexid, *_ = CALLS[MISSING]
    book.watch(f"callagent-n-{hexid}", f"cn-{hexid}")
    settled = []
    for n, message in enumerate(ami_messages(MISSING)):
        settled += book.feed(message, float(n))
    (item,) = settled
    assert (item.result, item.digit) == ("answered", "")


def test_prompt_missing_is_never_the_applicants_last_attempt() -> None:
    now = datetime(2026, 12, 3, 19, 5, tzinfo=UTC)
    change = entry_update(
        result="prompt_missing",
        digit="",
        operator_answered=False,
        attempts=3,
        max_attempts=3,
        retry_delays={},
        mode="message",
        now=now,
    )
    assert (change.status, change.last_result, change.next_attempt_at) == (
        "pending",
        "prompt_missing",
        now,
    )
    assert change.attempt_counted is False


def test_the_recordings_are_where_the_tests_look() -> None:
    for trace in CALLS:
        assert Path(LIVE_TRACES / f"{trace}.agi.jsonl").is_file()
