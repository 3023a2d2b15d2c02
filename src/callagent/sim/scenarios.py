"""The simulator's scenarios: recorded Asterisk traces turned into call templates.

Pure: reading the packaged trace files is the only IO, and there is no clock.
Each scenario is a trace of ``shared/pbx-traces/`` (Asterisk 22, chan_pjsip)
split into frames with their time in the call, plus what the simulator needs to
play it again with other people: the points where an operator is chosen (the
dialplan's FastAGI ``route``, app_queue picking a member), and the stretches of
time that people decide (how long a phone rings, how long they talk or hold).
One scenario, ``busy_then_next``, is derived from a recorded one (there is no
recording of a busy operator); it says so where it is built.
"""

from __future__ import annotations

import bisect
import copy
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from callagent.sim.ami_server import trace_body

# scenario -> (trace it is played from, kind)
#   inbound: the trunk calls in, the dialplan asks FastAGI route for the operator
#   queue:   DID 7800 goes to app_queue support, which rings a free member
#   outbound: an operator dials out from the phone
#   phone:   an operator's phone registers, unregisters, becomes unreachable
#   feature: an operator dials a feature code (its FastAGI is callagent's real answer)
SCENARIOS: dict[str, tuple[str, str]] = {
    "answered": ("inbound_answered_caller_hangs_up", "inbound"),
    "operator_hangs_up": ("inbound_answered_operator_hangs_up", "inbound"),
    "no_answer_then_next": ("inbound_no_answer_then_next", "inbound"),
    "abandoned": ("inbound_abandoned", "inbound"),
    "hold_unhold": ("hold_unhold", "inbound"),
    "inbound_recorded": ("inbound_recorded", "inbound"),
    "queue_answered": ("queue_answered", "queue"),
    "operator_outbound_manual": ("operator_outbound_manual", "outbound"),
    "operator_register_unregister": ("operator_register_unregister", "phone"),
    "operator_phone_unreachable": ("operator_phone_unreachable", "phone"),
    # *54 (ready) as a real Asterisk 22 plays it: the phone calls in, AGI ready, the dialplan
    # answers to play a beep and hangs up (live/live_feature_codes, its third call).
    "feature_code_ready": ("live/live_feature_codes", "feature"),
    # Derived, not recorded: see derive_busy().
    "busy_then_next": ("inbound_no_answer_then_next", "inbound"),
}
DERIVED = frozenset({"busy_then_next"})
CALL_SCENARIOS = tuple(
    name for name, (_, kind) in SCENARIOS.items() if kind not in ("phone", "feature")
)
PHONE_SCENARIOS = tuple(name for name, (_, kind) in SCENARIOS.items() if kind == "phone")

OPERATOR = re.compile(r"op(\d{4})")
_ID_KEYS = ("Uniqueid", "Linkedid", "UniqueID", "LinkedID")  # also DestUniqueid, ...
BUSY_AFTER = 0.3  # seconds from the INVITE to the 486 (outbound_notify_busy: 0.31 s)


@dataclass
class Frame:
    """One recorded AMI frame: its header lines in order and its time in the call."""

    pairs: list[tuple[str, str]]
    offset: float
    recorded: float = -1.0  # its time in the recording (a derived frame keeps it)
    literal: frozenset[str] = frozenset()  # headers whose values are this call's already

    def __post_init__(self) -> None:
        if self.recorded < 0:
            self.recorded = self.offset

    @property
    def event(self) -> str:
        return self.get("Event")

    def get(self, key: str) -> str:
        """The first value of ``key`` ('' when absent)."""
        return next((v for k, v in self.pairs if k == key), "")

    def set(self, key: str, value: str) -> None:
        """Change the value of ``key`` where it is (the header order stays)."""
        self.pairs = [(k, value if k == key else v) for k, v in self.pairs]


@dataclass
class Leg:
    """An operator's (or, outbound, the applicant's) leg that the caller's channel dials."""

    channel: str
    number: str  # the operator's number in the recording ("1001"), "" for the trunk
    dial_begin: int  # frame index of its DialBegin
    end: int  # frame index where its ringing ends (answer, DialEnd, the caller's hangup)
    outcome: str  # answered, NOANSWER, BUSY, abandoned


@dataclass
class Template:
    """A recorded call (or phone event sequence) ready to be played again."""

    name: str
    trace: str
    kind: str
    frames: list[Frame]
    linkedid: str | None
    applicant: str | None  # the applicant's number in the recording
    operators: list[str]  # the operators' numbers in order of appearance ("1001", "1002")
    legs: list[Leg] = field(default_factory=list)
    stretches: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    # AGI Newexten index -> (first, last) frame of its recorded AGIExecStart/VarSet/AGIExecEnd
    agi_blocks: dict[int, tuple[int, int]] = field(default_factory=dict)
    # frame index -> the stretch its gap (from the frame before) belongs to
    stretch_of: dict[int, str] = field(default_factory=dict)
    # recorded ids each played call renames: Uniqueid/Linkedid values, BridgeUniqueid
    # values and PJSIP channel names, each once, in order of appearance
    uniqueids: list[str] = field(default_factory=list)
    bridges: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    derived: bool = False
    start: float = 0.0  # epoch of the first timestamped event of the recording

    def span(self, name: str) -> float:
        """Recorded seconds in stretch ``name``."""
        return sum(self.frames[e].offset - self.frames[s].offset for s, e in self.stretches[name])

    def answered_leg(self) -> int | None:
        """Index of the leg that was answered, if any."""
        return next((i for i, leg in enumerate(self.legs) if leg.outcome == "answered"), None)


def load_template(path: Path, name: str | None = None, kind: str = "inbound") -> Template:
    """Read a trace into a template (the events after the login; no FullyBooted)."""
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
        frame.offset = frame.recorded = last
        frames.append(frame)
    first = next((f for f in frames if f.event == "Newchannel"), None)
    operators: list[str] = []
    for frame in frames:
        for _, value in frame.pairs:
            for number in OPERATOR.findall(value):
                if number not in operators:
                    operators.append(number)
    applicant = None
    if kind in ("inbound", "queue") and first is not None:
        applicant = first.get("CallerIDNum")
    elif kind == "outbound" and first is not None:
        applicant = first.get("Exten")  # the number the operator dialled
    template = Template(
        name or path.stem,
        path.stem,
        kind,
        frames,
        first.get("Linkedid") if first is not None else None,
        applicant,
        operators,
    )
    template.start = start or 0.0
    find_stretches(template)
    return template


def find_stretches(template: Template) -> None:
    """Find the legs, the stretches of time people decide (ring, talk, hold) and the
    recorded FastAGI commands (which the simulator replaces by callagent's real ones)."""
    frames = template.frames
    template.legs = []
    template.stretches = {}
    template.stretch_of = {}
    template.agi_blocks = _agi_blocks(frames)
    _find_ids(template)
    if template.kind != "phone":
        _find_call_stretches(template)
    for name, pieces in template.stretches.items():
        for start, end in pieces:
            for index in range(start + 1, end + 1):
                template.stretch_of[index] = name


def _find_call_stretches(template: Template) -> None:
    """A call's legs with their ring stretches, and its talk and hold stretches."""
    frames = template.frames
    hangup_requests = [i for i, f in enumerate(frames) if f.event == "HangupRequest"]
    for index, frame in enumerate(frames):
        if frame.event != "DialBegin":
            continue
        channel = frame.get("DestChannel")
        match = OPERATOR.search(channel)
        number = match.group(1) if match else ""
        answered = _index(frames, index, "Newstate", Channel=channel, ChannelStateDesc="Up")
        dial_end = _index(frames, index, "DialEnd", DestChannel=channel)
        if answered is not None and (dial_end is None or answered <= dial_end):
            end, outcome = answered, "answered"
        elif dial_end is not None and frames[dial_end].get("DialStatus") != "CANCEL":
            end, outcome = dial_end, frames[dial_end].get("DialStatus")
        else:  # the caller hung up while it rang
            end = next(i for i in hangup_requests if i > index)
            outcome = "abandoned"
        template.legs.append(Leg(channel, number, index, end, outcome))
        template.stretches[f"ring:{len(template.legs) - 1}"] = [(index, end)]
    answered_leg = template.answered_leg()
    if answered_leg is None:
        return
    connected = max(
        i for i, f in enumerate(frames) if f.event == "BridgeEnter"
    )  # both legs are in the bridge: the talk starts
    hangup = next(i for i in hangup_requests if i > connected)
    hold = _index(frames, connected, "Hold")
    unhold = _index(frames, connected, "Unhold")
    if hold is not None and unhold is not None and hold < unhold < hangup:
        template.stretches["talk"] = [(connected, hold), (unhold, hangup)]
        template.stretches["hold"] = [(hold, unhold)]
    else:
        template.stretches["talk"] = [(connected, hangup)]


def _find_ids(template: Template) -> None:
    """The recorded ids that every played call gets fresh values for (the same per call)."""
    seen: set[str] = set()
    template.uniqueids, template.bridges, template.channels = [], [], []
    for frame in template.frames:
        for key, value in frame.pairs:
            if not value or value in seen:
                continue
            if key == "BridgeUniqueid":  # before the suffix test: it ends with Uniqueid too
                template.bridges.append(value)
            elif key.endswith(_ID_KEYS):
                template.uniqueids.append(value)
            elif key.endswith("Channel") and value.startswith("PJSIP/") and "-" in value:
                template.channels.append(value)
            else:
                continue
            seen.add(value)


def _agi_blocks(frames: list[Frame]) -> dict[int, tuple[int, int]]:
    """Each FastAGI call's recorded commands: AGI Newexten -> first and last AGIExec frame."""
    blocks: dict[int, tuple[int, int]] = {}
    for index, frame in enumerate(frames):
        if frame.event == "Newexten" and frame.get("Application") == "AGI":
            status = _index(frames, index, "VarSet", Variable="AGISTATUS")
            block = [
                i
                for i in range(index, status if status is not None else index)
                if frames[i].event in ("AGIExecStart", "AGIExecEnd")
            ]
            if block:
                blocks[index] = (block[0], block[-1])
    return blocks


def _index(frames: list[Frame], start: int, event: str, **values: str) -> int | None:
    for index in range(start, len(frames)):
        frame = frames[index]
        if frame.event == event and all(frame.get(k) == v for k, v in values.items()):
            return index
    return None


def warp(offsets: list[float], stretches: list[tuple[list[tuple[int, int]], float]]) -> list[float]:
    """New frame times when each group of stretches lasts ``target`` seconds in all.

    The gaps inside a stretch are scaled by one factor (the order of frames never
    changes); gaps outside every stretch keep their recorded length.
    """
    factors = [1.0] * len(offsets)
    for pieces, target in stretches:
        span = sum(offsets[e] - offsets[s] for s, e in pieces)
        if span <= 0:
            continue  # nothing recorded to scale
        for s, e in pieces:
            for i in range(s + 1, e + 1):
                factors[i] = target / span
    out = [offsets[0]] if offsets else []
    for i in range(1, len(offsets)):
        gap = max(0.0, offsets[i] - offsets[i - 1])
        out.append(out[-1] + gap * factors[i])
    return out


def interpolate(xs: list[float], ys: list[float], x: float) -> float:
    """Piecewise-linear y(x) through the points (clamped slopes of 1 outside)."""
    if not xs:
        return x
    if x <= xs[0]:
        return ys[0] - (xs[0] - x)
    if x >= xs[-1]:
        return ys[-1] + (x - xs[-1])
    i = bisect.bisect_right(xs, x)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def feature_code_call(source: Template, code: str) -> Template:
    """The one call of a recording that dialled ``code``: its channel's frames, and its
    phone's device states while it lasted, as recorded (app_queue's member events, which
    followed callagent's QueuePause then, are left to the simulated queue)."""
    first = next(f for f in source.frames if f.event == "Newchannel" and f.get("Exten") == code)
    channel, device = first.get("Channel"), first.get("Channel").rpartition("-")[0]
    own = [i for i, f in enumerate(source.frames) if f.get("Channel") == channel]
    idle = _index(source.frames, own[-1], "DeviceStateChange", Device=device)  # phone free
    frames = [
        copy.deepcopy(f)
        for f in source.frames[own[0] : (idle if idle is not None else own[-1]) + 1]
        if f.get("Channel") == channel
        or (f.event == "DeviceStateChange" and f.get("Device") == device)
    ]
    origin = frames[0].offset
    for frame in frames:
        frame.offset = frame.recorded = frame.offset - origin
    template = Template(
        source.name,
        source.trace,
        source.kind,
        frames,
        first.get("Linkedid"),
        None,
        [n for n in source.operators if f"op{n}" in channel],
    )
    template.start = source.start + origin
    find_stretches(template)
    return template


def derive_busy(source: Template) -> Template:
    """``busy_then_next``: DERIVED from inbound_no_answer_then_next, NOT RECORDED.

    There is no recording of an operator whose phone answers 486 Busy Here. The
    first attempt's leg ends as ``shared/pbx-traces/README.md`` says a 486 ends
    (and ``outbound_notify_busy.ami`` shows on a trunk leg): ``HangupRequest``
    Cause 17 on the operator's leg, ``DialEnd`` DialStatus BUSY, the leg's
    ``Hangup`` Cause 17 (User busy), its ``Cdr`` Disposition BUSY, DIALSTATUS
    BUSY and ``route`` asked again with ``2,BUSY``. The phone rings
    ``BUSY_AFTER`` seconds before it refuses (a 180 then a 486, as a phone whose
    user rejects the call or has do-not-disturb sends). Everything else is the
    recording.
    """
    frames = copy.deepcopy(source.frames)
    first = source.legs[0]
    leg = first.channel
    ringing = _index(frames, first.dial_begin, "Newstate", Channel=leg)
    if ringing is None:
        raise ValueError(f"{source.trace}: the first operator's leg never rang")
    # The 486 comes BUSY_AFTER seconds after the INVITE instead of the 5 s timeout.
    offsets = warp([f.offset for f in frames], [([(first.dial_begin, first.end)], BUSY_AFTER)])
    for frame, offset in zip(frames, offsets, strict=True):
        frame.offset = offset
    dial_end = first.end
    frames[dial_end].set("DialStatus", "BUSY")
    # HangupRequest on the leg whose far end refused, just before the Dial ends.
    request_at = dial_end - 1 if frames[dial_end - 1].event == "CEL" else dial_end
    channel_headers = [
        (k, v)
        for k, v in frames[ringing].pairs
        if k not in ("Event", "Privilege", "Timestamp", "Cause", "Cause-txt")
    ]
    request = Frame(
        [
            ("Event", "HangupRequest"),
            ("Privilege", "call,all"),
            ("Timestamp", ""),
            *channel_headers,
            ("Cause", "17"),
        ],
        frames[request_at].offset,
        frames[request_at].recorded,
    )
    frames.insert(request_at, request)
    for frame in frames:
        if frame.event == "Hangup" and frame.get("Channel") == leg:
            frame.set("Cause", "17")
            frame.set("Cause-txt", "User busy")
        elif frame.event == "CEL" and frame.get("Channel") == leg:
            if frame.get("EventName") == "HANGUP":
                frame.set("Extra", f'{{"hangupcause":17,"hangupsource":"{leg}","dialstatus":""}}')
        elif frame.event == "Cdr" and frame.get("DestinationChannel") == leg:
            frame.set("Disposition", "BUSY")
        elif (
            frame.event == "VarSet"
            and frame.get("Variable") == "DIALSTATUS"
            and frame.get("Value") == "NOANSWER"
        ):
            frame.set("Value", "BUSY")
        frame.pairs = [
            (k, v.replace("DIALSTATUS=NOANSWER", "DIALSTATUS=BUSY").replace(",NOANSWER", ",BUSY"))
            for k, v in frame.pairs
        ]
    busy = Template(
        "busy_then_next",
        source.trace,
        source.kind,
        frames,
        source.linkedid,
        source.applicant,
        list(source.operators),
        derived=True,
        start=source.start,
    )
    find_stretches(busy)
    return busy


def load_templates(traces: Path) -> dict[str, Template]:
    """Every scenario of SCENARIOS, read from the packaged traces."""
    templates: dict[str, Template] = {}
    for name, (trace, kind) in SCENARIOS.items():
        if name in DERIVED:
            continue
        templates[name] = load_template(traces / f"{trace}.ami", name, kind)
    templates["feature_code_ready"] = feature_code_call(templates["feature_code_ready"], "*54")
    templates["busy_then_next"] = derive_busy(templates["no_answer_then_next"])
    return templates


@dataclass(frozen=True)
class Dist:
    """A duration in seconds drawn from a distribution (all draws from a seeded rng)."""

    kind: str  # fixed, uniform, exponential, lognormal
    a: float
    b: float = 0.0
    low: float = 0.0  # never shorter than this

    def sample(self, rng: random.Random) -> float:
        """One draw."""
        if self.kind == "fixed":
            value = self.a
        elif self.kind == "uniform":
            value = rng.uniform(self.a, self.b)
        elif self.kind == "exponential":
            value = rng.expovariate(1 / self.a)
        elif self.kind == "lognormal":  # a: the median, b: sigma
            value = rng.lognormvariate(math.log(self.a), self.b)
        else:
            raise ValueError(f"unknown distribution {self.kind!r}: fixed, uniform, ...")
        return max(self.low, value)

    @classmethod
    def fixed(cls, seconds: float) -> Dist:
        return cls("fixed", seconds)

    @classmethod
    def uniform(cls, low: float, high: float) -> Dist:
        return cls("uniform", low, high, low)

    @classmethod
    def exponential(cls, mean: float, low: float = 0.0) -> Dist:
        return cls("exponential", mean, 0.0, low)

    @classmethod
    def lognormal(cls, median: float, sigma: float, low: float = 0.0) -> Dist:
        return cls("lognormal", median, sigma, low)


@dataclass(frozen=True)
class Behaviour:
    """How the simulated people behave. ``None`` keeps the time of the recording.

    answer_delay: an operator's phone rings this long before they answer.
    talk_time: from the answer to the hang-up (hold excluded).
    hold_time: how long the operator holds the caller (hold_unhold).
    patience: how long a caller waits for an answer (nobody free, or ringing)
        before hanging up; a call whose answer would come later is abandoned.
    wrapup: after a call the operator presses "ready" (feature code *54, FastAGI
        ``ready``) this long after it ended; ``None``: never (callagent's deadline).
    seed: the random generator's seed (the same seed gives the same people).
    """

    answer_delay: Dist | None = None
    talk_time: Dist | None = None
    hold_time: Dist | None = None
    patience: Dist | None = None
    wrapup: Dist | None = None
    seed: int | None = None


# What make run's demo plays: people who behave like a small public office's.
DEMO_BEHAVIOUR = Behaviour(
    # Shorter than a real office's calls, so that three operators keep up with a call
    # every ~8 s and a new user sees most calls answered, some waiting, a few abandoned.
    answer_delay=Dist.uniform(1.0, 4.0),
    talk_time=Dist.lognormal(6.0, 0.4, low=2.0),
    hold_time=Dist.uniform(2.0, 6.0),
    patience=Dist.uniform(25.0, 60.0),
    wrapup=Dist.uniform(1.0, 4.0),
)
DEMO_WEIGHTS: dict[str, float] = {
    "answered": 40,
    "operator_hangs_up": 15,
    "hold_unhold": 10,
    "inbound_recorded": 8,
    "no_answer_then_next": 8,
    "abandoned": 6,
    "queue_answered": 4,
    "operator_outbound_manual": 6,
    "busy_then_next": 3,
}
