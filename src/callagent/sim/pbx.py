"""The PBX simulator: calls and phones made of real Asterisk event sequences.

Each scenario is a recorded trace from ``shared/pbx-traces/`` (Asterisk 22,
chan_pjsip; see ``scenarios.py``): the simulator replays its frames with fresh
ids, a new caller, the operators callagent chooses, and times shifted to now and
divided by ``speed``. Where the recorded dialplan asked FastAGI ``route``, the
simulator asks callagent for real (as res_agi does, over TCP) and puts the
operator it gets in the frames that follow; where app_queue picked a member, it
picks the first free, unpaused phone (callagent's ``QueuePause`` actions say
who is paused). While nobody is free, a call waits as the shipped dialplan makes
it: held on its ``route`` dialogue (``hold``) until callagent names an operator or
the caller hangs up; with ``hold=False``, as an older dialplan did, it asks again
after each ``route_wait`` seconds of music. People's times (an operator's answer
delay, the talk, the hold, the caller's patience) come from ``Behaviour``; unset,
they are the recording's.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import itertools
import logging
import random
import re
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callagent.sim.agi_client import AgiCall, run_agi
from callagent.sim.ami_server import AmiServer
from callagent.sim.channels import CHANNEL_HEADERS
from callagent.sim.recording_files import RecordingSink, recording_name
from callagent.sim.scenarios import (
    DEMO_WEIGHTS,
    OPERATOR,
    SCENARIOS,
    Behaviour,
    Frame,
    Template,
    interpolate,
    load_templates,
    warp,
)

log = logging.getLogger(__name__)

# an operator's after-call work, given their phone (PJSIP/op1001)
AfterCall = Callable[[str], Awaitable[None]]

__all__ = ["SCENARIOS", "Behaviour", "Played", "SimulatedPbx"]

_DATES = ("EventTime", "StartTime", "AnswerTime", "EndTime")
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class Rewriter:
    """Recorded ids, numbers and names -> the simulated call's, in one pass.

    One pass (a single regular expression over every recorded token) so that
    swapped operators (op1001 -> op1002 while op1002 -> op1001) never chain.
    Channel names get their new serial when first used, after the operator
    behind them is known.
    """

    def __init__(self, new_serial: Callable[[], int]) -> None:
        self.tokens: dict[str, str] = {}
        self.exact: dict[str, str] = {}
        self.channels: dict[str, str | None] = {}
        self.dial_timeout: str | None = None  # what route answered for the current attempt
        self._new_serial = new_serial
        self._pattern: re.Pattern[str] | None = None

    def add(self, old: str, new: str) -> None:
        """Replace ``old`` wherever it appears in a value."""
        self.tokens[old] = new
        self._pattern = None

    def channel(self, old: str) -> None:
        """A recorded channel name, renamed when first used."""
        self.channels.setdefault(old, None)
        self._pattern = None

    def bind_operator(self, number: str, endpoint: str) -> None:
        """Frames recorded with op<number> now name ``endpoint`` (PJSIP/op1007)."""
        name = endpoint.split("/", 1)[-1]
        match = OPERATOR.fullmatch(name)
        new_number = match.group(1) if match else name
        self.add(f"op{number}", name)
        self.add(f"Operator {number}", f"Operator {new_number}")
        self.add(f"<{number}>", f"<{new_number}>")
        self.exact[number] = new_number  # whole values (CallerIDNum: 1001)

    def __call__(self, value: str) -> str:
        exact = self.exact.get(value)
        if exact is not None:
            return exact
        if self._pattern is None:
            keys = sorted([*self.tokens, *self.channels], key=len, reverse=True)
            if not keys:
                return value
            alternation = "|".join(re.escape(k) for k in keys)
            self._pattern = re.compile(f"(?<![0-9])(?:{alternation})(?![0-9])")
        return self._pattern.sub(self._replace, value)

    def _replace(self, match: re.Match[str]) -> str:
        old = match.group(0)
        if old in self.channels:
            new = self.channels[old]
            if new is None:
                head, _, _ = old.rpartition("-")
                new = self.channels[old] = f"{self(head)}-{self._new_serial():08x}"
            return new
        return self.tokens[old]


@dataclass
class Played:
    """One simulated call (or phone event sequence) and how its ids were rewritten."""

    scenario: str
    caller: str
    rewrite: Rewriter
    routed: bool = False
    linkedid: str = ""
    rang: list[str] = field(default_factory=list)  # endpoints rung, in order
    answered_by: str | None = None
    abandoned_early: bool = False  # the caller's patience ran out before the answer
    dialled_at: list[float] = field(default_factory=list)  # each DialBegin (monotonic)
    times: dict[str, float] = field(default_factory=dict)  # stretch -> seconds played


class SimulatedPbx:
    """Plays simulated calls and phones to callagent over real AMI and FastAGI."""

    def __init__(
        self,
        ami: AmiServer,
        traces: Path,
        *,
        agi_host: str = "127.0.0.1",
        agi_port: int = 4573,
        speed: float = 1.0,
        route_wait: float = 2.0,
        max_route_tries: int = 30,
        behaviour: Behaviour | None = None,
        hold: bool = True,
        after_call: AfterCall | None = None,
        recordings: RecordingSink | None = None,
        node: str = "",
    ) -> None:
        self.ami = ami
        # this node's name as callagent knows it: the dialplan's CALLAGENT_NODE global,
        # which callagent reads when it follows several nodes ("": unset, as before)
        self.node = node
        # make run: a generated WAV where a recorded call's MixMonitor would write
        self.recordings = recordings
        # The operator's after-call work, done ``behaviour.wrapup`` after the call: None
        # presses *54 (ready) on the phone; make run's demo submits the wrap-up instead.
        self.after_call = after_call
        self.agi_host = agi_host
        self.agi_port = agi_port
        self.speed = speed
        self.route_wait = route_wait
        self.max_route_tries = max_route_tries
        self.hold = hold  # wait on the route dialogue (the shipped dialplan) or ask again
        self.behaviour = behaviour or Behaviour()
        self.rng = random.Random(self.behaviour.seed)
        self.templates = load_templates(traces)
        self.phones: list[str] = []  # registered phones, in order (app_queue's members)
        self.in_call: Counter[str] = Counter()  # phones in a simulated call now
        self.played: deque[Played] = deque(maxlen=200)
        self.dial_timeout_hint = 20.0  # the last CALLAGENT_DIAL_TIMEOUT route answered
        self.calls_unrouted = 0
        self._serials = itertools.count(1)  # channel name serials, as Asterisk's counter
        self._uniqueids = itertools.count(1)
        self._paused: dict[str, str | None] = {}  # interface -> pause reason (None: unpaused)
        self._actions_seen = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ AMI out

    async def send(self, data: bytes) -> None:
        """Write to every logged-in AMI client (callagent)."""
        await self.ami.broadcast(data)

    # ------------------------------------------------------------------- phones

    async def register_phones(self, endpoints: Iterable[str]) -> None:
        """Phones come up: the events Asterisk sends when each one REGISTERs."""
        template = self.templates["operator_register_unregister"]
        registered = next(
            i for i, f in enumerate(template.frames) if f.event == "DeviceStateChange"
        )
        for endpoint in endpoints:
            frames = template.frames[: registered + 1]
            await self._phone_frames(template, frames, endpoint, timed=False, name="register")
            if endpoint not in self.phones:
                self.phones.append(endpoint)

    async def phone(self, scenario: str, endpoint: str) -> Played:
        """Play a recorded phone scenario (register then unregister, or unreachable)."""
        template = self.templates[scenario]
        if template.kind != "phone":
            raise ValueError(f"{scenario!r} is a call scenario: use call()")
        if endpoint not in self.phones:
            self.phones.append(endpoint)
        played = await self._phone_frames(template, template.frames, endpoint, timed=True)
        with contextlib.suppress(ValueError):
            self.phones.remove(endpoint)  # both recordings end with the contact removed
        return played

    async def _phone_frames(
        self,
        template: Template,
        frames: list[Frame],
        endpoint: str,
        *,
        timed: bool,
        name: str | None = None,
    ) -> Played:
        rewrite = Rewriter(lambda: next(self._serials))
        rewrite.bind_operator(template.operators[0], endpoint)
        played = Played(name or template.name, "", rewrite, routed=True)
        self.played.append(played)
        clock = _Clock(self.speed)
        previous = frames[0].offset if frames else 0.0
        for frame in frames:
            if timed:
                clock.advance(frame.offset - previous)
                await clock.wait()
            previous = frame.offset
            await self.send(self._render(frame, rewrite, clock, template))
        return played

    # -------------------------------------------------------------------- calls

    async def call(self, scenario: str, caller: str) -> bool:
        """Play one call of ``scenario`` from (or to) ``caller``; False when it found nobody."""
        return (await self.play(scenario, caller)).routed

    async def play(self, scenario: str, caller: str) -> Played:
        """Play one call of ``scenario``; what was played, with its id mapping."""
        template = self.templates[scenario]
        if template.kind == "phone":
            raise ValueError(f"{scenario!r} is a phone scenario: use phone()")
        behaviour = self.behaviour
        patience, targets = self.plan(scenario)
        played_name = scenario
        if patience is not None and template.kind == "inbound":
            answer = self._predicted_answer(template, targets)
            if answer is not None and answer > patience:
                # The caller will not wait that long: they hang up while it rings.
                template, targets, played_name = self.templates["abandoned"], {}, "abandoned"
        played = Played(played_name, caller, Rewriter(lambda: next(self._serials)))
        played.abandoned_early = played_name != scenario
        self.played.append(played)
        bound: list[str] = []
        try:
            await self._play_call(template, played, targets, patience, bound)
            stored = recording_name(template) if self.recordings and played.routed else None
            if stored and self.recordings:
                await asyncio.to_thread(self.recordings.write, played.rewrite(stored))
        finally:
            for endpoint in bound:
                self.in_call[endpoint] -= 1
                if self.in_call[endpoint] <= 0:
                    del self.in_call[endpoint]
        if not played.routed:
            self.calls_unrouted += 1
        elif played.answered_by and behaviour.wrapup:
            delay = behaviour.wrapup.sample(self.rng)
            if self.after_call is not None:
                self._spawn(self._after_call_later(self.after_call, played.answered_by, delay))
            else:
                self._spawn(self._press_ready(played.answered_by, delay))
        return played

    def plan(self, scenario: str) -> tuple[float | None, dict[str, float | None]]:
        """The people of the next call: the caller's patience and the stretches' seconds."""
        template = self.templates[scenario]
        behaviour = self.behaviour
        patience = behaviour.patience.sample(self.rng) if behaviour.patience else None
        targets: dict[str, float | None] = {}
        for index, leg in enumerate(template.legs):
            if leg.outcome == "answered" and behaviour.answer_delay and template.kind != "outbound":
                targets[f"ring:{index}"] = behaviour.answer_delay.sample(self.rng)
        if behaviour.talk_time and "talk" in template.stretches:
            targets["talk"] = behaviour.talk_time.sample(self.rng)
        if behaviour.hold_time and "hold" in template.stretches:
            targets["hold"] = behaviour.hold_time.sample(self.rng)
        return patience, targets

    def _predicted_answer(
        self, template: Template, targets: dict[str, float | None]
    ) -> float | None:
        """When the call would be answered, with the dial timeout callagent last gave."""
        answered = template.answered_leg()
        if answered is None:
            return None
        stretches = []
        for index, leg in enumerate(template.legs):
            target = targets.get(f"ring:{index}")
            if leg.outcome == "NOANSWER":
                target = self.dial_timeout_hint
            if target is not None:
                stretches.append((template.stretches[f"ring:{index}"], target))
        offsets = warp([f.offset for f in template.frames], stretches)
        return offsets[template.legs[answered].end] - offsets[0]

    async def _play_call(
        self,
        template: Template,
        played: Played,
        targets: dict[str, float | None],
        patience: float | None,
        bound: list[str],
    ) -> None:
        rewrite = played.rewrite
        base = int(time.time())
        for value in template.uniqueids:
            rewrite.add(value, f"{base}.{next(self._uniqueids)}")
        for value in template.bridges:
            rewrite.add(value, str(uuid.uuid4()))
        for value in template.channels:
            rewrite.channel(value)
        if template.applicant:
            rewrite.add(template.applicant, played.caller)
        played.linkedid = rewrite(template.linkedid or "")
        if template.kind == "outbound":
            phone = self._free_phone()
            if phone is None:
                return  # nobody at a free phone to dial out
            self._bind(rewrite, template.operators[0], phone, bound)
            played.answered_by = phone
        stretch_of = template.stretch_of
        clock = _Clock(self.speed)
        attempt = 0
        previous_status = ""
        trunk = ""
        sent_since_start: list[Frame] = []
        sent_early: set[int] = set()  # recorded frames sent before their turn
        queue_joined = False
        agi: tuple[tuple[int, int], list[str]] | None = None
        for index, frame in enumerate(template.frames):
            if index:
                gap = frame.offset - template.frames[index - 1].offset
                name = stretch_of.get(index)
                target = targets.get(name) if name else None
                if name and target is not None:
                    span = template.span(name)
                    gap = gap * target / span if span > 0 else gap
                clock.advance(gap)
                if name:
                    played.times[name] = played.times.get(name, 0.0) + gap
            if frame.event == "Newchannel" and not trunk:
                trunk = frame.get("Channel")
            if frame.event == "DialEnd":
                previous_status = frame.get("DialStatus")
            if frame.event == "DialBegin":
                self._ring_target(template, frame, targets, patience, clock, rewrite.dial_timeout)
                played.dialled_at.append(time.monotonic())
            if frame.event == "Newexten" and frame.get("Application") == "AGI":
                attempt += 1
                # A phone that stopped ringing is free again whatever the dialplan does
                # next: Asterisk says so within a millisecond of its Hangup (recorded
                # in inbound_no_answer_then_next), not after the next route's answer.
                for early in settled_phones(template.frames, index, sent_early):
                    made = Frame(list(template.frames[early].pairs), frame.offset, frame.recorded)
                    await self.send(self._render(made, rewrite, clock, template, sent_since_start))
                    sent_since_start.append(made)
                    sent_early.add(early)
                chosen = await self._route(
                    played, rewrite(trunk), attempt, previous_status, frame, patience, clock
                )
                if chosen is None:
                    await self._caller_gives_up(template, index, rewrite, clock)
                    return
                endpoint, timeout, commands = chosen
                block = template.agi_blocks.get(index)
                if block is not None:
                    agi = (block, commands)  # the recorded commands give way to the real ones
                if attempt - 1 < len(template.legs):
                    leg = template.legs[attempt - 1]
                    if leg.number:
                        self._bind(rewrite, leg.number, endpoint, bound, timeout)
                        played.rang.append(endpoint)
                        if leg.outcome == "answered":
                            played.answered_by = endpoint
                    if leg.outcome == "NOANSWER" and timeout:
                        targets[f"ring:{attempt - 1}"] = float(timeout)
            if queue_joined and template.kind == "queue":
                queue_joined = False
                member = await self._queue_member(patience, clock)
                if member is None:
                    await self._caller_gives_up(template, index, rewrite, clock)
                    return
                leg = template.legs[0]
                self._bind(rewrite, leg.number, member, bound)
                played.rang.append(member)
                played.answered_by = member
            if frame.event == "QueueCallerJoin":
                queue_joined = True
            if index in sent_early:
                continue
            await clock.wait()
            if agi is not None and agi[0][0] <= index <= agi[0][1]:
                (first, last), commands = agi
                if index == first:
                    shapes = template.frames[first : last + 1]
                    for made in _agi_frames(shapes, commands, self.rng):
                        out = self._render(made, rewrite, clock, template, sent_since_start)
                        await self.send(out)
                        sent_since_start.append(made)
                continue
            await self.send(self._render(frame, rewrite, clock, template, sent_since_start))
            sent_since_start.append(frame)
        played.routed = True

    def _ring_target(
        self,
        template: Template,
        frame: Frame,
        targets: dict[str, float | None],
        patience: float | None,
        clock: _Clock,
        dial_timeout: str | None,
    ) -> None:
        """The leg that starts ringing now: a caller with patience hangs up on time.

        Not later than the Dial timeout, though (then the dialplan would have
        tried the next operator): an abandoned call is one nobody answered in time.
        """
        if patience is None:
            return
        for index, leg in enumerate(template.legs):
            if leg.outcome == "abandoned" and leg.channel == frame.get("DestChannel"):
                ring = patience - clock.elapsed
                if dial_timeout:
                    ring = min(ring, float(dial_timeout) * 0.9)
                targets[f"ring:{index}"] = max(0.1, ring)

    def _bind(
        self,
        rewrite: Rewriter,
        number: str,
        endpoint: str,
        bound: list[str],
        dial_timeout: str | None = None,
    ) -> None:
        rewrite.bind_operator(number, endpoint)
        if dial_timeout:
            # The dialplan dials with the timeout callagent answered (Dial(op,<timeout>)).
            name = endpoint.split("/", 1)[-1]
            for recorded in ("5", "20"):
                rewrite.add(f"op{number},{recorded}", f"{name},{dial_timeout}")
                rewrite.add(
                    f'CALLAGENT_DIAL_TIMEOUT "{recorded}"',
                    f'CALLAGENT_DIAL_TIMEOUT "{dial_timeout}"',
                )
            rewrite.dial_timeout = dial_timeout
        self.in_call[endpoint] += 1
        bound.append(endpoint)

    async def _route(
        self,
        played: Played,
        channel: str,
        attempt: int,
        previous: str,
        frame: Frame,
        patience: float | None,
        clock: _Clock,
    ) -> tuple[str, str | None, list[str]] | None:
        """Ask callagent's FastAGI ``route`` as the dialplan does, waiting while it says so.

        Held (``hold``): one dialogue, on which callagent plays music until it names an
        operator; the caller hangs up on it when their patience ends (or after as
        long as ``max_route_tries`` waits would have taken).
        """
        tries = 0
        while True:
            tries += 1
            call = AgiCall(
                "route",
                played.linkedid,
                channel=channel,
                callerid=played.caller,
                dnid=frame.get("Exten") or "4951112233",
                args=[str(attempt), previous],
                variables={"CHANNEL(linkedid)": played.linkedid},
            )
            if self.node:
                call.variables["CALLAGENT_NODE"] = self.node
            gives_up: asyncio.TimerHandle | None = None
            if self.hold:
                call.args += ["", "", "", "hold"]  # linkedid not passed: asked as recorded
                left = (
                    patience - clock.elapsed
                    if patience is not None
                    else self.max_route_tries * self.route_wait
                )
                call.hangup = asyncio.Event()
                gives_up = asyncio.get_running_loop().call_later(
                    max(0.0, left) / self.speed, call.hangup.set
                )
            try:
                await run_agi(call, self.agi_host, self.agi_port)
            except OSError as exc:
                log.warning("simulator: FastAGI unreachable (%s)", exc)
                return None
            finally:
                if gives_up is not None:
                    gives_up.cancel()
            if any(c.startswith("SET MUSIC ON") for c in call.commands):
                clock.catch_up()  # held: the wait took real time
            if call.hung_up:
                return None  # the caller gave up while held
            operator = call.set.get("CALLAGENT_OPERATOR", "")
            status = call.set.get("CALLAGENT_STATUS")
            timeout = call.set.get("CALLAGENT_DIAL_TIMEOUT")
            if status == "ok" and operator:
                if timeout and timeout.isdigit():
                    self.dial_timeout_hint = float(timeout)
                known = timeout if timeout and timeout.isdigit() else None
                return operator, known, call.commands
            if status == "overflow":
                return None
            if not await self._wait(tries, patience, clock):
                return None

    async def _wait(self, tries: int, patience: float | None, clock: _Clock) -> bool:
        """Music on hold for ``route_wait`` seconds; False when the caller gives up."""
        if patience is None and tries >= self.max_route_tries:
            return False
        if patience is not None and clock.elapsed + self.route_wait > patience:
            return False
        clock.advance(self.route_wait)
        await clock.wait()
        return True

    async def _queue_member(self, patience: float | None, clock: _Clock) -> str | None:
        """app_queue (strategy linear): the first registered phone free and not paused."""
        tries = 0
        while True:
            tries += 1
            free = self._free_phones()
            if free:
                return free[0]
            if not await self._wait(tries, patience, clock):
                return None

    def _free_phone(self) -> str | None:
        """A phone whose operator could dial out now (any of the free ones)."""
        free = self._free_phones()
        return self.rng.choice(free) if free else None

    def _free_phones(self) -> list[str]:
        """Registered phones not in a call and not paused, in registration order."""
        self._read_queue_pauses()
        return [p for p in self.phones if not self.in_call[p] and self._paused.get(p) is None]

    def _read_queue_pauses(self) -> None:
        """callagent's QueuePause actions: who app_queue would skip (and why)."""
        actions = self.ami.actions
        for action in actions[self._actions_seen :]:
            if action.action.lower() != "queuepause":
                continue
            interface = action.get("Interface")
            paused = action.get("Paused").lower() in ("true", "1", "yes")
            self._paused[interface] = (action.get("Reason") or "paused") if paused else None
        self._actions_seen = len(actions)

    async def _caller_gives_up(
        self, template: Template, index: int, rewrite: Rewriter, clock: _Clock
    ) -> None:
        """Nobody was free in time: the caller hangs up while the dialplan waits.

        Not recorded (no trace has a caller leaving the wait loop): the trunk
        channel ends as it does in the recordings where the caller sends BYE
        (HangupRequest and SoftHangupRequest Cause 16, Hangup Normal Clearing, the
        trunk's device NOT_INUSE, a Cdr ANSWERED by the dialplan with no
        destination), each frame shaped as its recorded counterpart.
        """
        frames = template.frames
        trunk = next(f for f in frames if f.event == "Newchannel").get("Channel")
        last = next(
            f
            for f in reversed(frames[: index + 1])
            if f.get("Channel") == trunk and f.get("Uniqueid")
        )
        channel_pairs = [(k, v) for k, v in last.pairs if k in CHANNEL_HEADERS]
        out: list[Frame] = []
        for event, extra in (
            ("HangupRequest", [("Cause", "16")]),
            ("SoftHangupRequest", [("Cause", "16")]),
            ("Hangup", [("Cause", "16"), ("Cause-txt", "Normal Clearing")]),
        ):
            pairs = [("Event", event), ("Privilege", "call,all"), ("Timestamp", "")]
            out.append(Frame([*pairs, *channel_pairs, *extra], last.offset, last.recorded))
        device = next(
            (
                f
                for f in frames
                if f.event == "DeviceStateChange" and f.get("Device") == "PJSIP/trunk"
            ),
            None,
        )
        if device is not None:
            out.append(Frame(list(device.pairs), last.offset, last.recorded))
            out[-1].set("State", "NOT_INUSE")
        cdr = next((f for f in frames if f.event == "Cdr"), None)
        if cdr is not None:
            agi = next((f for f in frames if f.get("Application") == "AGI"), None)
            record = Frame(list(cdr.pairs), last.offset, last.recorded)
            values = {
                "DestinationChannel": "",
                "LastApplication": "AGI" if agi is not None else "Queue",
                "LastData": agi.get("AppData") if agi is not None else "support",
                "Disposition": "ANSWERED",
            }
            for key, value in values.items():
                record.set(key, value)
            out.append(record)
        # The trunk answered at once (Answer()) and ends now.
        dates = {"StartTime": clock.wall, "AnswerTime": clock.wall, "EndTime": clock.stamp()}
        for frame in out:
            await self.send(self._render(frame, rewrite, clock, template, dates=dates))

    async def _after_call_later(self, after_call: AfterCall, endpoint: str, delay: float) -> None:
        await asyncio.sleep(delay / self.speed)
        try:
            await after_call(endpoint)
        except Exception:  # the demo's people never stop the simulator
            log.exception("the simulated after-call work of %s failed", endpoint)

    async def _press_ready(self, endpoint: str, delay: float, tries: int = 5) -> None:
        """After-call work done: the operator dials *54 a while after the call.

        If callagent says nothing changed (its screen still shows the call), the
        operator presses again a little later.
        """
        await asyncio.sleep(delay / self.speed)
        for _ in range(tries):
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                if await self.press_ready(endpoint) == "ok":
                    return
            await asyncio.sleep(1.0 / self.speed)

    async def press_ready(self, endpoint: str) -> str:
        """The operator dials *54 (ready) from ``endpoint``; callagent's CALLAGENT_STATUS.

        The call is the one a real Asterisk 22 made (``live/live_feature_codes``): the
        phone calls in, the dialplan asks FastAGI ``ready`` (callagent, for real, over
        TCP), answers the phone to play a beep and hangs up; with the status callagent
        gave in its VarSet, and Asterisk's error prompt when it was not ``ok``.
        """
        template = self.templates["feature_code_ready"]
        rewrite = Rewriter(lambda: next(self._serials))
        base = int(time.time())
        for value in template.uniqueids:
            rewrite.add(value, f"{base}.{next(self._uniqueids)}")
        for value in template.channels:
            rewrite.channel(value)
        rewrite.bind_operator(template.operators[0], endpoint)
        played = Played(template.name, "", rewrite, routed=True)
        played.linkedid = rewrite(template.linkedid or "")
        self.played.append(played)
        clock = _Clock(self.speed)
        status = ""
        previous = template.frames[0].offset if template.frames else 0.0
        for frame in template.frames:
            clock.advance(frame.offset - previous)
            previous = frame.offset
            await clock.wait()
            if frame.event == "VarSet" and frame.get("Variable") == "CALLAGENT_STATUS":
                if not status:
                    continue  # FastAGI failed: the dialplan set nothing
                frame = _literal(frame, "Value", status)
            elif frame.get("Application") == "Playback" and status != "ok":
                frame = _literal(frame, "AppData", "an-error-has-occurred")
            await self.send(self._render(frame, rewrite, clock, template))
            if frame.event == "Newexten" and frame.get("Application") == "AGI":
                call = AgiCall(
                    "ready", played.linkedid, channel=rewrite(frame.get("Channel")), dnid="*54"
                )
                call.callerid = call.calleridname = rewrite(frame.get("CallerIDNum"))
                with contextlib.suppress(OSError, asyncio.TimeoutError):
                    await run_agi(call, self.agi_host, self.agi_port)
                status = call.set.get("CALLAGENT_STATUS", "")
                clock.catch_up()
        return status

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Cancel the calls in progress and the operators' pending key presses."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ render

    def _render(
        self,
        frame: Frame,
        rewrite: Rewriter,
        clock: _Clock,
        template: Template,
        history: list[Frame] | None = None,
        dates: Mapping[str, float] | None = None,
    ) -> bytes:
        """The frame as this call's Asterisk sends it now: ids, people, times, pauses."""
        stamp = clock.stamp()
        clock.stamps.append(stamp)
        clock.recorded.append(template.start + frame.recorded)
        # Recorded dates map through the frames sent so far (``history``: the clock
        # holds their times in the same order), or through this frame alone.
        if history is None:
            history, xs, ys = [], clock.recorded[-1:], clock.stamps[-1:]
        else:
            xs, ys = clock.recorded, clock.stamps
        pairs: list[tuple[str, str]] = []
        when: dict[str, float] = {}
        for key, value in frame.pairs:
            if key == "Timestamp":
                value = f"{stamp:.6f}"
            elif key in _DATES and (value or key in (dates or {})):
                at = dates[key] if dates and key in dates else _to_wall(value, xs, ys)
                when[key] = at
                value = time.strftime(_DATE_FORMAT, time.localtime(at))
            elif key in frame.literal:
                pass  # already this call's (what callagent said over FastAGI)
            elif key == "Value" and frame.get("Variable") == "CALLAGENT_DIAL_TIMEOUT" and value:
                value = rewrite.dial_timeout or value
            else:
                value = rewrite(value)
            pairs.append((key, value))
        if frame.event == "Cdr" and "StartTime" in when and "EndTime" in when:
            answer = when.get("AnswerTime")
            duration = round(when["EndTime"] - when["StartTime"])
            billable = round(when["EndTime"] - answer) if answer is not None else 0
            seconds = {"Duration": str(duration), "BillableSeconds": str(billable)}
            pairs = [(k, seconds.get(k, v)) for k, v in pairs]
        if frame.event in ("AgentConnect", "AgentComplete"):
            pairs = _queue_times(frame.event, pairs, history, clock.stamps, stamp)
        if frame.event == "QueueMemberStatus":
            self._read_queue_pauses()
            reason = self._paused.get(dict(pairs).get("Interface", ""))
            if reason is not None:
                paused = {"Paused": "1", "PausedReason": reason}
                pairs = [(k, paused.get(k, v)) for k, v in pairs]
        return _encode(pairs)

    # --------------------------------------------------------------------- run

    async def run(
        self,
        *,
        interval: float = 8.0,
        scenarios: Mapping[str, float] | Iterable[str] | None = None,
    ) -> None:
        """Generate calls forever: one every ``interval`` seconds on average (Poisson).

        ``scenarios``: names (equal chances) or name -> weight; default a mix
        that looks like a small office's day (``scenarios.DEMO_WEIGHTS``).
        """
        mix = dict(DEMO_WEIGHTS) if scenarios is None else scenarios
        weights = dict(mix) if isinstance(mix, Mapping) else {name: 1.0 for name in mix}
        unknown = set(weights) - set(self.templates)
        if unknown:
            raise ValueError(
                f"unknown scenarios {sorted(unknown)}; known: {sorted(self.templates)}"
            )
        names, chances = list(weights), list(weights.values())
        while True:
            caller = "79" + "".join(self.rng.choices("0123456789", k=9))
            self._spawn(self.call(self.rng.choices(names, chances)[0], caller))
            await asyncio.sleep(self.rng.expovariate(1 / interval))  # real seconds


def _literal(frame: Frame, key: str, value: str) -> Frame:
    """A copy of ``frame`` whose ``key`` is this call's value already (not rewritten)."""
    made = Frame(list(frame.pairs), frame.offset, frame.recorded, frame.literal | {key})
    made.set(key, value)
    return made


class _Clock:
    """A call's own time: simulated seconds since it began, played ``speed`` times faster."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.elapsed = 0.0  # simulated seconds
        self.wall = time.time()
        self.mono = time.monotonic()
        self.stamps: list[float] = []  # each rendered frame's Timestamp
        self.recorded: list[float] = []  # and its time in the recording (epoch)

    def advance(self, seconds: float) -> None:
        self.elapsed += max(0.0, seconds)

    def catch_up(self) -> None:
        """Simulated time went on while the call waited for something real."""
        self.elapsed = max(self.elapsed, (time.monotonic() - self.mono) * self.speed)

    def stamp(self) -> float:
        """The event's Timestamp: when it is due, not when the loop got to it."""
        return self.wall + self.elapsed / self.speed

    async def wait(self) -> None:
        delay = self.mono + self.elapsed / self.speed - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -1.0:
            # Far behind (a slow route answer): carry on from now, not in a burst.
            self.elapsed = (time.monotonic() - self.mono) * self.speed


def _device(channel: str) -> str:
    """``PJSIP/op1001-00000005`` -> ``PJSIP/op1001`` (the device a channel belongs to)."""
    return channel.rsplit("-", 1)[0]


def settled_phones(
    frames: list[Frame], index: int, done: set[int] | frozenset[int] = frozenset()
) -> list[int]:
    """The recorded frames after ``index`` that free a phone whose channel hung up by
    ``index``: its ``DeviceStateChange`` NOT_INUSE and app_queue's ``QueueMemberStatus``
    right after it (``done``: already sent). A later ``Newchannel`` on the phone starts
    another ring, whose states are not these."""
    last_state: dict[str, str] = {}
    ended: set[str] = set()
    for item in frames[: index + 1]:
        if item.event == "DeviceStateChange":
            last_state[item.get("Device")] = item.get("State")
        elif item.event == "Hangup":
            ended.add(_device(item.get("Channel")))
    waiting = {d for d in ended if last_state.get(d, "NOT_INUSE") != "NOT_INUSE"}
    out: list[int] = []
    for later in range(index + 1, len(frames)):
        if not waiting:
            break
        item = frames[later]
        if item.event == "Newchannel":
            waiting.discard(_device(item.get("Channel")))
        elif item.event == "DeviceStateChange" and item.get("Device") in waiting:
            device = item.get("Device")
            waiting.discard(device)
            if item.get("State") != "NOT_INUSE" or later in done:
                continue
            out.append(later)
            after = frames[later + 1] if later + 1 < len(frames) else None
            if (
                after is not None
                and after.event == "QueueMemberStatus"
                and after.get("Interface") == device
            ):
                out.append(later + 1)
    return out


def _agi_frames(shapes: list[Frame], commands: list[str], rng: random.Random) -> list[Frame]:
    """res_agi's events for the commands callagent really sent (shaped as recorded ones).

    AGIExecStart and AGIExecEnd for each command, and the VarSet that a
    ``SET VARIABLE`` makes, in between.
    """
    start = next(f for f in shapes if f.event == "AGIExecStart")
    end = next(f for f in shapes if f.event == "AGIExecEnd")
    varset = next((f for f in shapes if f.event == "VarSet"), None)
    out: list[Frame] = []
    for command in commands:
        command_id = str(rng.randrange(100_000_000, 2**31))
        for shape in (start, varset, end):
            if shape is None:
                continue
            frame = Frame(list(shape.pairs), start.offset, start.recorded)
            if shape is varset:
                verb, _, rest = command.partition(" VARIABLE ")
                if verb != "SET":
                    continue
                name, _, value = rest.partition(" ")
                frame.set("Variable", name)
                frame.set("Value", _unquote(value))
                frame.literal = frozenset({"Variable", "Value"})
            else:
                frame.set("CommandId", command_id)
                frame.set("Command", command)
                frame.literal = frozenset({"Command"})
            out.append(frame)
    return out


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value.replace('\\"', '"').replace("\\\\", "\\")


def _queue_times(
    event: str,
    pairs: list[tuple[str, str]],
    history: list[Frame],
    stamps: list[float],
    now: float,
) -> list[tuple[str, str]]:
    """app_queue's whole seconds (HoldTime, RingTime, TalkTime) of this call's own times."""

    def at(name: str) -> float | None:
        index = next((i for i in range(len(history) - 1, -1, -1) if history[i].event == name), None)
        return None if index is None else stamps[index]

    join, called, connect = at("QueueCallerJoin"), at("AgentCalled"), at("AgentConnect")
    connected = connect if connect is not None else now
    values: dict[str, float | None] = {
        "HoldTime": None if join is None else connected - join,
        "RingTime": None if called is None or event != "AgentConnect" else now - called,
        "TalkTime": None if connect is None or event != "AgentComplete" else now - connect,
    }
    return [(k, str(int(values[k] or 0)) if values.get(k) is not None else v) for k, v in pairs]


def _to_wall(value: str, xs: list[float], ys: list[float]) -> float:
    """A recorded date (the recording machine ran on UTC) -> this call's epoch."""
    try:
        recorded = float(calendar.timegm(time.strptime(value, _DATE_FORMAT)))
    except ValueError:
        return ys[-1]
    # Dates are whole seconds: one before the call's first event is that event's second.
    return interpolate(xs, ys, max(recorded, xs[0]))


def _encode(pairs: list[tuple[str, str]]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode() + b"\r\n"
