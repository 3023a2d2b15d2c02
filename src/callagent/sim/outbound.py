"""Outbound calls in the PBX simulator: what Asterisk does with an AMI ``Originate``.

Real Asterisk answers an async Originate at once (``Response: Success``,
``Message: Originate successfully queued``) and then emits the events of the
call it places. The simulator does the same by replaying the recorded traces of
``shared/pbx-traces/`` (Asterisk 22, chan_pjsip) with fresh ids, the ``ChannelId``
given as the dialled channel's Uniqueid, the Originate's ActionID, dialled number,
caller id and channel variables, times scaled by a speed factor:

- ``answered:1`` (``answered``), ``answered:9``, ``answered:none``: the applicant
  answers and presses 1 / 9 / nothing (``outbound_notify_answered``; the digit is
  the only change);
- ``answered:2``: presses 2 and is put through to an operator
  (``outbound_notify_then_operator``);
- ``busy`` (``outbound_notify_busy``: 486, ``Reason: 0``, cause 17);
- ``no_answer`` (``outbound_notify_no_answer``: rings for the Originate's Timeout);
- ``congestion`` (a 503) and ``failed`` (a 500): NOT recorded; derived from the busy
  trace, which is what the traces README says real Asterisk does for them
  (``Reason: 0``, ``Uniqueid: <unknown>``), with the dialled channel's Hangup
  cause 34 (503) or 38 (500) instead of 17, DialStatus CONGESTION / CHANUNAVAIL and
  Cdr disposition FAILED;
- ``refused``: Asterisk refuses the action itself (``Response: Error``).

Where the recorded dialplan played the message, the simulator asks callagent's
FastAGI ``notify`` script for real (as res_agi would for ``dialplan/extensions.conf``)
and answers its ``GET DATA`` with the outcome's digit; for digit 2 it asks
``route`` for the operator to ring. An Originate into the click-to-call context
replays ``click_to_call`` (the operator's phone first, then the applicant). So does
an Originate into a call-back context (``callagent-callback``), where the outcome
function may also make the applicant ``busy`` or ``no_answer``: ``click_to_call`` with
the applicant's leg ending as the traces README says a 486 or a ring-out ends (derived,
NOT recorded).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from callagent.ami.parser import AmiMessage
from callagent.sim.agi_client import AgiCall, run_agi
from callagent.sim.ami_server import AmiServer, ServerConnection, frame, trace_body

log = logging.getLogger(__name__)

OUTCOMES = (
    "answered",
    "answered:1",
    "answered:2",
    "answered:9",
    "answered:none",
    "busy",
    "no_answer",
    "congestion",
    "failed",
    "refused",
)
TRACE_FILES = {
    "answered": "outbound_notify_answered",
    "operator": "outbound_notify_then_operator",
    "busy": "outbound_notify_busy",
    "no_answer": "outbound_notify_no_answer",
    "click_to_call": "click_to_call",
}
# Recorded values that each Originate replaces with its own.
_REC_VARIABLES = frozenset({"CAMPAIGN_ID", "DOCUMENT_ID", "CALLAGENT_ORIGIN"})
_REC_NUMBER = "79161234567"
_REC_CALLERS = (("74950000000", "Docs Ready"), ("79161234567", "Callback"))
_REC_OPERATOR = "op1001"
_REC_RING_SECONDS = 10.0  # outbound_notify_no_answer was recorded with Timeout 10000
_ID_KEYS = ("Uniqueid", "Linkedid", "UniqueID", "LinkedID")
_CHANNEL = re.compile(r"^(?P<head>[A-Za-z]+/[^\s-]+)-[0-9a-f]{8}$")

OutcomeFn = Callable[[str, int], str]  # (dialled number, attempt for that number) -> outcome


def _tok(name: str) -> str:
    return f"\x00{name}\x00"


@dataclass(slots=True)
class _Frame:
    text: str
    tokens: tuple[str, ...]
    offset: float
    event: str
    role: str = ""  # "", "vars", "drop", "dtmf", "notify_agi", "route_agi"


@dataclass
class OutboundTemplate:
    """A recorded outbound call, tokenised once so that each replay is a few replaces."""

    name: str
    frames: list[_Frame]
    channels: dict[str, str]  # token -> recorded channel head ("PJSIP/trunk")
    uniqueids: list[str]  # tokens, the dialled channel's first
    bridges: list[str]
    ring_seconds: float | None = None


def _load_pairs(path: Path) -> list[tuple[list[tuple[str, str]], float]]:
    body = trace_body(path.read_bytes()).decode("utf-8")
    out: list[tuple[list[tuple[str, str]], float]] = []
    start: float | None = None
    last = 0.0
    for raw in body.split("\r\n\r\n"):
        lines = [line for line in raw.split("\r\n") if line]
        if not lines or not lines[0].startswith("Event: "):
            continue  # responses belong to the recording connection
        pairs = [(k, v) for k, _, v in (line.partition(": ") for line in lines)]
        event = pairs[0][1]
        if event in ("FullyBooted", "Shutdown"):
            continue
        stamp = next((v for k, v in pairs if k == "Timestamp"), "")
        if stamp:
            start = float(stamp) if start is None else start
            last = max(last, float(stamp) - start)
        out.append((pairs, last))
    return out


def _derive_failure(
    frames: list[tuple[list[tuple[str, str]], float]], cause: int, tech: int, text: str, dial: str
) -> list[tuple[list[tuple[str, str]], float]]:
    """The busy trace with another SIP final answer (not recorded: see the module doc)."""
    out: list[tuple[list[tuple[str, str]], float]] = []
    for pairs, offset in frames:
        event = pairs[0][1]
        new: list[tuple[str, str]] = []
        for key, value in pairs:
            if event in ("HangupRequest", "Hangup") and key == "Cause" and value == "17":
                value = str(cause)
            elif event == "Hangup" and key == "Cause-txt" and value == "User busy":
                value = text
            elif key == "TechCause" and value == "486":
                value = str(tech)
            elif event == "DialEnd" and key == "DialStatus":
                value = dial
            elif event == "Cdr" and key == "Disposition" and value == "BUSY":
                value = "FAILED"
            elif event == "CEL" and key == "Extra" and '"hangupcause":17' in value:
                value = value.replace('"hangupcause":17', f'"hangupcause":{cause}')
            new.append((key, value))
        out.append((new, offset))
    return out


def _derive_callee_failure(
    frames: list[tuple[list[tuple[str, str]], float]],
    *,
    dial: str,
    cause: int,
    text: str,
    after: float,
) -> list[tuple[list[tuple[str, str]], float]]:
    """``click_to_call`` whose applicant does not take the call (NOT recorded).

    The operator answers as recorded; the applicant's leg rings, then ends as the traces
    README says a dialled leg ends: 486 -> ``HangupRequest`` and ``Hangup`` Cause 17, a
    ring timeout -> ``Hangup`` Cause 0 (after ``after`` seconds), with the operator's
    ``DIALSTATUS`` and ``DialEnd`` saying BUSY / NOANSWER; the dialplan then hangs the
    operator up (the recorded tail of the operator's channel, without the bridge and the
    applicant's channel, its Cdr's disposition changed).
    """

    def value(pairs: list[tuple[str, str]], key: str) -> str:
        return next((v for k, v in pairs if k == key), "")

    def replaced(pairs: list[tuple[str, str]], **changes: str) -> list[tuple[str, str]]:
        return [(k, changes.get(k.replace("-", "_"), v)) for k, v in pairs]

    trunk = next(
        value(p, "Channel")
        for p, _ in frames
        if p[0][1] == "Newchannel" and value(p, "Channel").startswith("PJSIP/trunk")
    )
    ringing = next(
        i
        for i, (p, _) in enumerate(frames)
        if p[0][1] == "DialState" and value(p, "DestChannel") == trunk
    )

    def first(event: str, key: str = "", wanted: str = "") -> list[tuple[str, str]]:
        return next(
            p for p, _ in frames if p[0][1] == event and (not key or value(p, key) == wanted)
        )

    find = {
        "hangup_request": first("HangupRequest"),
        "hangup": first("Hangup", "Channel", trunk),
        "dialstatus": next(
            p
            for p, _ in frames
            if p[0][1] == "VarSet"
            and value(p, "Variable") == "DIALSTATUS"
            and value(p, "Value") == "ANSWER"
        ),
        "dialend": first("DialEnd", "DestChannel", trunk),
    }
    at = frames[ringing][1] + after
    out = list(frames[: ringing + 1])
    if cause == 17:
        out.append((replaced(find["hangup_request"], Cause=str(cause)), at))
    out.append((replaced(find["hangup"], Cause=str(cause), Cause_txt=text), at + 0.001))
    out.append((replaced(find["dialstatus"], Value=dial), at + 0.002))
    out.append((replaced(find["dialend"], DialStatus=dial), at + 0.003))
    tail = next(i for i, (p, _) in enumerate(frames) if p[0][1] == "SoftHangupRequest")
    base = frames[tail][1]
    disposition = "BUSY" if dial == "BUSY" else "NO ANSWER"
    for pairs, offset in frames[tail:]:
        event = pairs[0][1]
        if trunk in (value(pairs, "Channel"), value(pairs, "DestChannel")) and event != "Cdr":
            continue
        if event.startswith("Bridge") or (
            event == "VarSet" and "BRIDGE" in value(pairs, "Variable")
        ):
            continue
        if event == "Cdr":
            pairs = replaced(pairs, Disposition=disposition)
        out.append((pairs, at + 0.01 + (offset - base)))
    return out


def _tokenise(
    name: str, frames: list[tuple[list[tuple[str, str]], float]], *, digits: bool
) -> OutboundTemplate:
    uniqueids: dict[str, str] = {}
    bridges: dict[str, str] = {}
    channels: dict[str, str] = {}  # recorded channel -> token
    heads: dict[str, str] = {}  # token -> head
    first = next(p for p, _ in frames if p[0][1] == "Newchannel")
    dialled = next(v for k, v in first if k == "Uniqueid")
    uniqueids[dialled] = _tok("ID0")
    for pairs, _ in frames:
        for key, value in pairs:
            if key == "BridgeUniqueid":
                if value not in bridges:
                    bridges[value] = _tok(f"BR{len(bridges)}")
            elif key.endswith(_ID_KEYS) and value != "<unknown>" and value not in uniqueids:
                uniqueids[value] = _tok(f"ID{len(uniqueids)}")
            if key.endswith("Channel") and value not in channels:
                match = _CHANNEL.match(value)
                if match:
                    token = _tok(f"CH{len(channels)}")
                    channels[value] = token
                    heads[token] = match.group("head")
    replace: list[tuple[str, str]] = [*channels.items(), *uniqueids.items(), *bridges.items()]
    replace += [
        (f"PJSIP/{_REC_NUMBER}@trunk", _tok("ORIGCHAN")),
        (f"{_REC_NUMBER}@trunk", _tok("DIAL")),
        (_REC_NUMBER, _tok("EXTEN")),
        (_REC_OPERATOR, _tok("OPEP")),
    ]
    for number, caller in _REC_CALLERS:
        if any(number in v for p, _ in frames for k, v in p if k == "CallerIDNum"):
            replace.insert(0, (caller, _tok("CIDNAME")))
            if number != _REC_NUMBER:
                replace.insert(0, (number, _tok("CIDNUM")))
    replace.sort(key=lambda item: -len(item[0]))
    out: list[_Frame] = []
    previous_vars_channel = ""
    seen_playback = seen_dial = False
    for pairs, offset in frames:
        event = pairs[0][1]
        values = dict(pairs)
        role = ""
        if event == "VarSet" and values.get("Variable") in _REC_VARIABLES:
            role = "drop" if previous_vars_channel == values.get("Channel") else "vars"
            previous_vars_channel = values.get("Channel", "")
        else:
            previous_vars_channel = ""
        notify = values.get("Context") == "notify-out" and event == "Newexten"
        if notify and values.get("Application") == "Playback" and not seen_playback:
            role, seen_playback = "notify_agi", True
        if notify and values.get("Application") == "Dial" and not seen_dial:
            role, seen_dial = "route_agi", True
        if event == "DTMFEnd" and digits:
            role = "dtmf"
        lines: list[str] = []
        for key, value in pairs:
            if key == "Timestamp":
                value = _tok("TS")
            elif key == "ActionID":
                value = _tok("ACTIONID")
            elif role == "vars" and key == "Variable":
                value = _tok("VARNAME")
            elif role == "vars" and key == "Value":
                value = _tok("VARVALUE")
            elif digits and (
                (event in ("DTMFEnd", "UserEvent") and key == "Digit")
                or (values.get("Variable") == "NOTIFY_DIGIT" and key == "Value")
            ):
                value = _tok("DIGIT")
            elif digits and (
                (event == "UserEvent" and key == "ReadStatus")
                or (values.get("Variable") == "READSTATUS" and key == "Value" and value == "OK")
            ):
                value = _tok("READSTATUS")
            else:
                for old, token in replace:
                    if old in value:
                        value = value.replace(old, token)
            lines.append(f"{key}: {value}\r\n")
        text = "".join(lines) + "\r\n"
        tokens = tuple(sorted(set(re.findall("\x00[A-Z0-9]+\x00", text))))
        out.append(_Frame(text, tokens, offset, event, role))
    return OutboundTemplate(
        name,
        out,
        heads,
        [uniqueids[k] for k in uniqueids],
        list(bridges.values()),
        _REC_RING_SECONDS if name == "no_answer" else None,
    )


def load_templates(traces: Path) -> dict[str, OutboundTemplate]:
    """Every outbound template, recorded and derived, by outcome kind."""
    raw = {kind: _load_pairs(traces / f"{file}.ami") for kind, file in TRACE_FILES.items()}
    templates = {
        "answered": _tokenise("answered", raw["answered"], digits=True),
        "operator": _tokenise("operator", raw["operator"], digits=True),
        "busy": _tokenise("busy", raw["busy"], digits=False),
        "no_answer": _tokenise("no_answer", raw["no_answer"], digits=False),
        "click_to_call": _tokenise("click_to_call", raw["click_to_call"], digits=False),
        # Derived from click_to_call (not recorded): the operator answers, the applicant
        # is busy (486 after 0.3 s) or does not answer (the Dial's 10 s ring out).
        "operator_first:busy": _tokenise(
            "operator_first:busy",
            _derive_callee_failure(
                raw["click_to_call"], dial="BUSY", cause=17, text="User busy", after=0.3
            ),
            digits=False,
        ),
        "operator_first:no_answer": _tokenise(
            "operator_first:no_answer",
            _derive_callee_failure(
                raw["click_to_call"], dial="NOANSWER", cause=0, text="Unknown", after=10.0
            ),
            digits=False,
        ),
        # Derived from busy (not recorded): a 503 -> cause 34, a 500 -> cause 38.
        "congestion": _tokenise(
            "congestion",
            _derive_failure(raw["busy"], 34, 503, "Circuit/channel congestion", "CONGESTION"),
            digits=False,
        ),
        "failed": _tokenise(
            "failed",
            _derive_failure(raw["busy"], 38, 500, "Network out of order", "CHANUNAVAIL"),
            digits=False,
        ),
    }
    return templates


def outcome_plan(plan: Mapping[str, str | Sequence[str]], default: str = "answered") -> OutcomeFn:
    """An outcome function from ``{number: outcome}`` or ``{number: [outcome per attempt]}``.

    Numbers match with or without a leading ``+``; past the end of a list its last
    outcome repeats; numbers not in the plan get ``default``.
    """
    table = {key.lstrip("+"): value for key, value in plan.items()}
    for value in table.values():
        for outcome in [value] if isinstance(value, str) else value:
            if outcome not in OUTCOMES:
                raise ValueError(f"unknown simulated outcome {outcome!r}; known: {OUTCOMES}")

    def choose(number: str, attempt: int) -> str:
        value = table.get(number.lstrip("+"), default)
        if isinstance(value, str):
            return value
        return value[min(attempt, len(value)) - 1] if value else default

    return choose


_DEMO_MIX = (
    ("answered:1", 45),
    ("answered:2", 5),
    ("answered:9", 3),
    ("answered:none", 10),
    ("busy", 15),
    ("no_answer", 17),
    ("congestion", 5),
)


def demo_outcome(number: str, attempt: int) -> str:
    """``make run``'s applicants: a plausible mix, the same for a number and attempt."""
    pick = zlib.crc32(f"{number}:{attempt}".encode()) % sum(w for _, w in _DEMO_MIX)
    for outcome, weight in _DEMO_MIX:
        if pick < weight:
            return outcome
        pick -= weight
    return "answered:1"


def _caller_id(raw: str) -> tuple[str, str]:
    """``"Docs Ready" <74950000000>`` -> (number, name)."""
    match = re.match(r'^\s*"?([^"<]*)"?\s*<([^>]*)>\s*$', raw)
    if match:
        return match.group(2), match.group(1).strip()
    return raw.strip(), raw.strip()


def _number_of(channel: str) -> str:
    """``PJSIP/79161234567@trunk`` -> ``79161234567``."""
    user = channel.split("/", 1)[-1]
    return user.split("@", 1)[0].lstrip("+")


@dataclass
class NotifyDialogue:
    """One FastAGI ``notify`` dialogue the simulator played for an answered call."""

    uniqueid: str
    digit: str
    commands: list[str] = field(default_factory=list)
    set: dict[str, str] = field(default_factory=dict)


class OutboundPbx:
    """Answers Originates on an :class:`AmiServer` with replayed outbound calls."""

    def __init__(
        self,
        ami: AmiServer,
        traces: Path,
        *,
        outcome: OutcomeFn | None = None,
        agi_host: str = "127.0.0.1",
        agi_port: int = 4573,
        speed: float = 1.0,
        click_to_call_context: str = "from-operators",
        operator_first_contexts: Sequence[str] = ("callagent-callback",),
    ) -> None:
        self.ami = ami
        self.templates = load_templates(traces)
        self.outcome = outcome or (lambda number, attempt: "answered")
        self.agi_host = agi_host
        self.agi_port = agi_port
        self.speed = speed
        self.click_to_call_context = click_to_call_context
        # call-backs: the operator first like click-to-call, then the applicant, who may
        # be busy or not answer (the outcome function decides, as for campaigns)
        self.operator_first_contexts = tuple(operator_first_contexts)
        self.originates: list[AmiMessage] = []
        self.dialled: Counter[str] = Counter()  # number -> Originates received
        self.dialogues: list[NotifyDialogue] = []
        self.calls_done = 0
        self._serial = itertools.count(1)
        self._base = int(time.time())
        self._tasks: set[asyncio.Task[None]] = set()
        ami.originate_handler = self.on_originate

    @property
    def in_flight(self) -> int:
        """Calls being replayed now."""
        return len(self._tasks)

    def on_originate(self, conn: ServerConnection, action: AmiMessage) -> list[bytes]:
        """The response frames to one Originate; the call's events follow in a task."""
        aid = ("ActionID", action.action_id)
        channel = action.get("Channel")
        if not channel or not (action.get("Exten") or action.get("Application")):
            return [frame(("Response", "Error"), aid, ("Message", "Channel not specified"))]
        self.originates.append(action)
        first = action.get("Context") in self.operator_first_contexts
        c2c = first or action.get("Context") == self.click_to_call_context
        number = _number_of(action.get("Exten") if c2c else channel)
        self.dialled[number] += 1
        outcome = "click_to_call" if c2c else self.outcome(number, self.dialled[number])
        if first:
            chosen = self.outcome(number, self.dialled[number])
            if chosen in ("busy", "no_answer"):
                outcome = f"operator_first:{chosen}"
            elif chosen == "refused":
                outcome = chosen
        if outcome == "refused":
            return [frame(("Response", "Error"), aid, ("Message", "Originate failed"))]
        task = asyncio.create_task(self._play(action, outcome))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return [frame(("Response", "Success"), aid, ("Message", "Originate successfully queued"))]

    async def send(self, data: bytes) -> None:
        """Write to every logged-in AMI client (events go to all, as in Asterisk)."""
        await self.ami.broadcast(data)

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Until every call being replayed has ended."""
        if self._tasks:
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), timeout)

    async def stop(self) -> None:
        """Cancel the calls being replayed."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ replay

    def _values(self, action: AmiMessage, template: OutboundTemplate, digit: str) -> dict[str, str]:
        serial = next(self._serial)
        channel = action.get("Channel")
        exten = action.get("Exten")
        c2c = template.name == "click_to_call" or template.name.startswith("operator_first")
        number = exten if c2c else _number_of(channel)
        cid = action.get("CallerID")
        cid_num, cid_name = _caller_id(cid) if cid else (number, number)
        tech, _, rest = channel.partition("/")
        values = {
            _tok("ACTIONID"): action.action_id,
            _tok("ORIGCHAN"): f"PJSIP/{exten}@trunk" if c2c else channel,
            _tok("DIAL"): f"{exten}@trunk" if c2c else rest,
            _tok("EXTEN"): number,
            _tok("CIDNUM"): cid_num,
            _tok("CIDNAME"): cid_name,
            _tok("OPEP"): rest if c2c else _REC_OPERATOR,
            _tok("DIGIT"): digit,
            _tok("READSTATUS"): "OK" if digit else "TIMEOUT",
        }
        for index, token in enumerate(template.uniqueids):
            values[token] = f"{self._base}.{serial * 10 + index}"
        if action.get("ChannelId"):
            values[template.uniqueids[0]] = action.get("ChannelId")
        for token in template.bridges:
            values[token] = str(uuid.uuid4())
        trunk_head = f"{tech}/{rest.split('@', 1)[1]}" if "@" in rest else channel
        for index, (token, head) in enumerate(sorted(template.channels.items())):
            if head.startswith("PJSIP/trunk"):
                head = "PJSIP/trunk" if c2c else trunk_head
            elif c2c and head == f"PJSIP/{_REC_OPERATOR}":
                head = channel
            values[token] = f"{head}-{serial * 16 + index:08x}"
        return values

    async def _play(self, action: AmiMessage, outcome: str) -> None:
        kind, _, digit = outcome.partition(":")
        if kind == "operator_first":
            kind, digit = outcome, ""
        elif kind == "answered":
            digit = "" if digit == "none" else (digit or "1")
            kind = "operator" if digit == "2" else "answered"
        template = self.templates[kind]
        values = self._values(action, template, digit)
        # Asterisk sets an Originate's variables last first (recorded VarSet order).
        variables = [v.partition("=") for v in reversed(action.getall("Variable"))]
        ring_extra = 0.0
        if template.ring_seconds is not None and action.get("Timeout").isdigit():
            ring_extra = int(action.get("Timeout")) / 1000 - template.ring_seconds
        started = time.monotonic()
        shift = 0.0
        buffer: list[str] = []
        try:
            for fr in template.frames:
                offset = fr.offset
                if ring_extra and offset >= template.ring_seconds - 0.01:  # type: ignore[operator]
                    offset += ring_extra
                delay = started + (offset / self.speed) + shift - time.monotonic()
                if delay > 0:
                    if buffer:
                        await self.send("".join(buffer).encode())
                        buffer = []
                    await asyncio.sleep(delay)
                if fr.role == "drop" or (fr.role == "dtmf" and not values[_tok("DIGIT")]):
                    continue
                if fr.role == "route_agi":
                    if buffer:
                        await self.send("".join(buffer).encode())
                        buffer = []
                    before = time.monotonic()
                    await self._route(values)
                    shift += time.monotonic() - before
                values[_tok("TS")] = f"{time.time():.6f}"
                if fr.role == "vars":
                    for name, _, value in variables:
                        values[_tok("VARNAME")] = name
                        values[_tok("VARVALUE")] = value
                        buffer.append(_render(fr, values))
                else:
                    buffer.append(_render(fr, values))
                if fr.role == "notify_agi":
                    await self.send("".join(buffer).encode())
                    buffer = []
                    before = time.monotonic()
                    await self._notify(action, values, variables)
                    shift += time.monotonic() - before
            if buffer:
                await self.send("".join(buffer).encode())
        finally:
            self.calls_done += 1

    async def _notify(
        self,
        action: AmiMessage,
        values: dict[str, str],
        variables: list[tuple[str, str, str]],
    ) -> None:
        """res_agi running ``AGI(agi://callagent/notify)`` on the answered channel."""
        uniqueid = values[_tok("ID0")]
        channel = values[_tok("CH0")] if _tok("CH0") in values else action.get("Channel")
        dialogue = NotifyDialogue(uniqueid, values[_tok("DIGIT")])
        self.dialogues.append(dialogue)
        known = {name: value for name, _, value in variables}
        known.update({"CHANNEL(linkedid)": uniqueid, "UNIQUEID": uniqueid})
        try:
            await asyncio.wait_for(
                _play_notify(
                    self.agi_host, self.agi_port, dialogue, channel, values[_tok("CIDNUM")], known
                ),
                30,
            )
        except (OSError, TimeoutError) as exc:
            log.warning("simulator: FastAGI notify unreachable (%s); the call goes on", exc)
        digit = dialogue.set.get("CALLAGENT_NOTIFY_DIGIT", dialogue.digit)
        if digit != dialogue.digit:
            log.info(
                "simulator: notify script heard %r, the applicant pressed %r", digit, dialogue.digit
            )

    async def _route(self, values: dict[str, str]) -> None:
        """Digit 2: the dialplan asks ``route`` which operator to ring."""
        linkedid = values[_tok("ID0")]
        call = AgiCall(
            "route",
            linkedid,
            callerid=values[_tok("CIDNUM")],
            args=["1", "", "", "", linkedid],  # AGI(.../route,1,,,,${CHANNEL(linkedid)})
            variables={"CHANNEL(linkedid)": linkedid},
        )
        try:
            await asyncio.wait_for(run_agi(call, self.agi_host, self.agi_port), 10)
        except (OSError, TimeoutError) as exc:
            log.warning("simulator: FastAGI route unreachable (%s); ringing op1001", exc)
            return
        operator = call.set.get("CALLAGENT_OPERATOR", "")
        if call.set.get("CALLAGENT_STATUS") == "ok" and operator:
            values[_tok("OPEP")] = operator.split("/", 1)[-1]


def _render(fr: _Frame, values: dict[str, str]) -> str:
    text = fr.text
    for token in fr.tokens:
        text = text.replace(token, values.get(token, ""))
    return text


async def _play_notify(
    host: str,
    port: int,
    dialogue: NotifyDialogue,
    channel: str,
    callerid: str,
    variables: dict[str, str],
) -> None:
    """The Asterisk side of one FastAGI ``notify`` dialogue."""
    reader, writer = await asyncio.open_connection(host, port)
    env = [
        ("agi_network", "yes"),
        ("agi_network_script", "notify"),
        ("agi_request", f"agi://{host}:{port}/notify"),
        ("agi_channel", channel),
        ("agi_language", "en"),
        ("agi_type", channel.split("/", 1)[0]),
        ("agi_uniqueid", dialogue.uniqueid),
        ("agi_version", "22.10.1"),
        ("agi_callerid", callerid),
        ("agi_calleridname", callerid),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", "unknown"),
        ("agi_rdnis", "unknown"),
        ("agi_context", "notify-out"),
        ("agi_extension", "s"),
        ("agi_priority", "3"),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""),
        ("agi_threadid", "140073274164928"),
        # AGI(${CALLAGENT_AGI}/notify,${CALLAGENT_ENTRY_ID},${CALLAGENT_ATTEMPT_ID})
        ("agi_arg_1", variables.get("CALLAGENT_ENTRY_ID", "")),
        ("agi_arg_2", variables.get("CALLAGENT_ATTEMPT_ID", "")),
    ]
    pressed = False
    try:
        writer.write("".join(f"{k}: {v}\n" for k, v in env).encode() + b"\n")
        await writer.drain()
        while True:
            raw = await reader.readline()
            if not raw:
                return
            command = raw.decode().rstrip("\r\n")
            dialogue.commands.append(command)
            verb = command.split(" ", 1)[0].upper()
            if command.startswith("SET VARIABLE "):
                name, _, value = command[len("SET VARIABLE ") :].partition(" ")
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                dialogue.set[name] = value
                variables[name] = value
                answer = "200 result=1"
            elif command.startswith("GET VARIABLE "):
                known = variables.get(command[len("GET VARIABLE ") :].strip())
                answer = f"200 result=1 ({known})" if known is not None else "200 result=0"
            elif command.startswith("GET DATA "):
                if dialogue.digit and not pressed:
                    pressed = True
                    answer = f"200 result={dialogue.digit}"
                else:
                    answer = "200 result= (timeout)"
            elif command.startswith("STREAM FILE "):
                answer = "200 result=0 endpos=8000"
            elif verb in ("ANSWER", "EXEC", "NOOP", "VERBOSE", "SAY"):
                answer = "200 result=0"
            elif verb == "HANGUP":
                writer.write(b"200 result=1\n")
                await writer.drain()
                return
            else:
                answer = "510 Invalid or unknown command"
            writer.write(answer.encode() + b"\n")
            await writer.drain()
    finally:
        writer.close()
