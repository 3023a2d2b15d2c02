"""The PBX simulator: calls made of real Asterisk event sequences.

Each scenario is a recorded trace from ``shared/pbx-traces/`` (Asterisk 22,
chan_pjsip): the simulator replays its frames with fresh ids, a new caller, the
operators callagent chooses, and times shifted to now. Where the recorded
dialplan asked FastAGI ``route``, the simulator asks callagent for real (as
res_agi does, over TCP) and puts the operator it gets in the frames that follow,
so what callagent sees is what a real Asterisk would send for that call.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from callagent.sim.agi_client import AgiCall, run_agi
from callagent.sim.ami_server import AmiServer, trace_body

log = logging.getLogger(__name__)

SCENARIOS = {
    "answered": "inbound_answered_caller_hangs_up",
    "operator_hangs_up": "inbound_answered_operator_hangs_up",
    "no_answer_then_next": "inbound_no_answer_then_next",
    "abandoned": "inbound_abandoned",
}
_OPERATOR = re.compile(r"op(\d{4})")


@dataclass
class Frame:
    """One recorded AMI frame: its header lines in order and its time in the call."""

    pairs: list[tuple[str, str]]
    offset: float

    @property
    def event(self) -> str:
        return next((v for k, v in self.pairs if k == "Event"), "")

    def get(self, key: str) -> str:
        return next((v for k, v in self.pairs if k == key), "")


@dataclass
class Template:
    """A recorded call: its frames and the ids they use."""

    name: str
    frames: list[Frame]
    linkedid: str
    caller: str
    operators: list[str]  # the operators' numbers in order of ringing ("1001", "1002")


def load_template(path: Path) -> Template:
    """Read a trace into a template (events of the call only)."""
    body = trace_body(path.read_bytes()).decode("utf-8")
    frames: list[Frame] = []
    start: float | None = None
    last = 0.0
    for raw in body.split("\r\n\r\n"):
        lines = [line for line in raw.split("\r\n") if line]
        if not lines or not lines[0].startswith("Event: "):
            continue  # action responses belong to the recording connection
        pairs = [(k, v) for k, _, v in (line.partition(": ") for line in lines)]
        frame = Frame(pairs, 0.0)
        if frame.event in ("FullyBooted", "Shutdown"):
            continue
        stamp = frame.get("Timestamp")
        if stamp:
            start = float(stamp) if start is None else start
            last = float(stamp) - start
        frame.offset = last
        frames.append(frame)
    first = next(f for f in frames if f.event == "Newchannel")
    operators: list[str] = []
    for frame in frames:
        if frame.event == "Newchannel" and frame.get("Channel").startswith("PJSIP/op"):
            match = _OPERATOR.search(frame.get("Channel"))
            if match and match.group(1) not in operators:
                operators.append(match.group(1))
    return Template(path.stem, frames, first.get("Linkedid"), first.get("CallerIDNum"), operators)


class SimulatedPbx:
    """Plays simulated calls to callagent over real AMI and FastAGI."""

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
    ) -> None:
        self.ami = ami
        self.agi_host = agi_host
        self.agi_port = agi_port
        self.speed = speed
        self.route_wait = route_wait
        self.max_route_tries = max_route_tries
        self.templates = {
            name: load_template(traces / f"{trace}.ami") for name, trace in SCENARIOS.items()
        }
        self._ids = itertools.count(1)
        self.calls_played = 0
        self.calls_unrouted = 0

    async def send(self, data: bytes) -> None:
        """Write to every logged-in AMI client (callagent)."""
        for conn in list(self.ami.connections):
            if conn.logged_in and not conn.writer.is_closing():
                conn.writer.write(data)
                with contextlib.suppress(ConnectionError):
                    await conn.writer.drain()

    async def register_phones(self, endpoints: list[str]) -> None:
        """The phones come up: the device states Asterisk sends for registered phones."""
        for endpoint in endpoints:
            await self.send(
                _encode(
                    [
                        ("Event", "DeviceStateChange"),
                        ("Privilege", "call,all"),
                        ("Timestamp", f"{time.time():.6f}"),
                        ("Device", endpoint),
                        ("State", "NOT_INUSE"),
                    ]
                )
            )

    async def call(self, scenario: str, caller: str) -> bool:
        """Play one call of ``scenario`` from ``caller``; False when no operator was free."""
        template = self.templates[scenario]
        serial = next(self._ids)
        base = f"{int(time.time())}"
        replacements: dict[str, str] = {}
        uniqueids: dict[str, str] = {}
        for frame in template.frames:
            for key, value in frame.pairs:
                if (
                    key.endswith(("Uniqueid", "Linkedid", "UniqueID", "LinkedID"))
                    and value not in uniqueids
                ):
                    uniqueids[value] = f"{base}.{serial * 10 + len(uniqueids)}"
                if key.endswith("Channel") and value.startswith("PJSIP/") and "-" in value:
                    head, _, _ = value.rpartition("-")
                    replacements.setdefault(value, f"{head}-{serial * 10 + len(replacements):08x}")
                if key == "BridgeUniqueid":
                    replacements.setdefault(value, str(uuid.uuid4()))
        replacements.update(uniqueids)
        replacements[template.caller] = caller
        operators = list(template.operators)
        attempt = 0
        previous = ""
        linkedid = uniqueids[template.linkedid]
        started = time.monotonic()
        for index, frame in enumerate(template.frames):
            due = started + frame.offset / self.speed
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if frame.event == "Newexten" and frame.get("Application") == "AGI":
                attempt += 1
                chosen = await self._route(linkedid, caller, attempt, previous)
                if chosen is None:
                    self.calls_unrouted += 1
                    await self._caller_gives_up(template, index, replacements)
                    return False
                number = operators[attempt - 1] if attempt - 1 < len(operators) else None
                if number is not None:
                    _bind_operator(replacements, number, chosen)
                previous = "NOANSWER"
            await self.send(_encode(_rewrite(frame.pairs, replacements)))
        self.calls_played += 1
        return True

    async def _route(self, linkedid: str, caller: str, attempt: int, previous: str) -> str | None:
        for _ in range(self.max_route_tries):
            call = AgiCall(
                "route",
                linkedid,
                callerid=caller,
                args=[str(attempt), previous],
                variables={"CHANNEL(linkedid)": linkedid},
            )
            try:
                await run_agi(call, self.agi_host, self.agi_port)
            except OSError as exc:
                log.warning("simulator: FastAGI unreachable (%s)", exc)
                return None
            operator = call.set.get("CALLAGENT_OPERATOR", "")
            if call.set.get("CALLAGENT_STATUS") == "ok" and operator:
                return operator
            if call.set.get("CALLAGENT_STATUS") == "overflow":
                return None
            await asyncio.sleep(self.route_wait / self.speed)
        return None

    async def _caller_gives_up(
        self, template: Template, index: int, replacements: dict[str, str]
    ) -> None:
        """Nobody was free: the caller hangs up (the trunk channel's own end)."""
        trunk = next(f for f in template.frames if f.event == "Newchannel")
        channel_pairs = [(k, v) for k, v in trunk.pairs if k not in ("Event", "Timestamp")]
        for event, extra in (
            ("HangupRequest", [("Cause", "16")]),
            ("Hangup", [("Cause", "16"), ("Cause-txt", "Normal Clearing")]),
        ):
            pairs = [("Event", event), *channel_pairs, *extra]
            await self.send(_encode(_rewrite(pairs, replacements)))

    async def run(self, *, interval: float = 8.0, scenarios: list[str] | None = None) -> None:
        """Generate calls forever: one every ``interval`` seconds on average."""
        names = scenarios or [
            "answered",
            "answered",
            "operator_hangs_up",
            "no_answer_then_next",
            "abandoned",
        ]
        tasks: set[asyncio.Task[bool]] = set()
        while True:
            caller = "79" + "".join(random.choices("0123456789", k=9))
            task = asyncio.create_task(self.call(random.choice(names), caller))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await asyncio.sleep(random.expovariate(1 / interval))


def _bind_operator(replacements: dict[str, str], number: str, chosen: str) -> None:
    """Frames recorded with op<number> now name the operator callagent chose."""
    endpoint = chosen.split("/", 1)[-1]  # "op1007"
    match = _OPERATOR.search(endpoint)
    new_number = match.group(1) if match else endpoint
    replacements[f"op{number}"] = endpoint
    replacements[f"Operator {number}"] = f"Operator {new_number}"
    replacements[f"={number}"] = f"={new_number}"  # exact values (CallerIDNum: 1001)


def _rewrite(pairs: list[tuple[str, str]], replacements: dict[str, str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in pairs:
        if key == "Timestamp":
            out.append((key, f"{time.time():.6f}"))
            continue
        exact = replacements.get("=" + value)
        if exact is not None:
            out.append((key, exact[1:] if exact.startswith("=") else exact))
            continue
        for old, new in replacements.items():
            if not old.startswith("=") and old in value:
                value = value.replace(old, new)
        out.append((key, value))
    return out


def _encode(pairs: list[tuple[str, str]]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode() + b"\r\n"
