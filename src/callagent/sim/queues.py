"""app_queue's members as the simulator keeps them: pauses, ``QueueStatus``, restarts.

The frames are Asterisk 22's, header for header, as recorded in
``shared/pbx-traces/live/live_queue_status*.ami`` (``QueueStatus``: a response, then
``QueueParams``, one ``QueueMember`` per member with the ActionID last, and
``QueueStatusComplete`` counting both) and ``shared/pbx-traces/queue_pause_unpause.ami``
(``QueuePause``: "Interface paused successfully", a ``DeviceStateChange`` of
``Queue:<queue>_pause_<interface>``, then ``QueueMemberPause``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from callagent.ami.parser import AmiMessage, AmiParser

# QueueParams' fields after Queue, in Asterisk's order, with a fresh queue's values.
_PARAMS = (
    ("Max", "0"),
    ("Strategy", "leastrecent"),
    ("Calls", "0"),
    ("Holdtime", "0"),
    ("TalkTime", "0"),
    ("Completed", "0"),
    ("Abandoned", "0"),
    ("ServiceLevel", "0"),
    ("ServicelevelPerf", "0.0"),
    ("ServicelevelPerf2", "0.0"),
    ("Weight", "0"),
)


def _frame(pairs: list[tuple[str, str]]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in pairs) + b"\r\n"


@dataclass
class SimMember:
    """One static member (``member => interface,penalty,name,state_interface``)."""

    interface: str
    name: str = ""
    state_interface: str = ""
    membership: str = "static"
    penalty: int = 0
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_call: int = 0
    status: int = 1  # AST_DEVICE_NOT_INUSE; 5 unavailable
    paused: bool = False
    reason: str = ""
    wrapuptime: int = 0

    def available(self) -> bool:
        """app_queue could ring it (unpaused, and not in use with ringinuse = no)."""
        return not self.paused and self.status in (0, 1)


@dataclass
class SimQueue:
    """One queue of the simulated app_queue."""

    name: str
    members: list[SimMember] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=lambda: list(_PARAMS))

    @classmethod
    def from_trace(cls, trace: bytes, name: str) -> SimQueue:
        """The queue as a recorded ``QueueStatus`` answer shows it (the last one)."""
        items = [m for m in AmiParser().feed(trace) if isinstance(m, AmiMessage)]
        params = [m for m in items if m.event == "QueueParams" and m.get("Queue") == name]
        members = [m for m in items if m.event == "QueueMember" and m.get("Queue") == name]
        if not params:
            raise ValueError(f"the trace has no QueueStatus answer for queue {name!r}")
        action_id = params[-1].get("ActionID")
        queue = cls(
            name,
            params=[
                (k, v)
                for k, v in params[-1].headers.items()
                if k not in ("Event", "Queue", "ActionID")
            ],
        )
        for m in members:
            if m.get("ActionID") != action_id:
                continue
            queue.members.append(
                SimMember(
                    interface=m.get("Location"),
                    name=m.get("Name"),
                    state_interface=m.get("StateInterface"),
                    membership=m.get("Membership") or "static",
                    penalty=int(m.get("Penalty") or 0),
                    calls_taken=int(m.get("CallsTaken") or 0),
                    last_call=int(m.get("LastCall") or 0),
                    last_pause=int(m.get("LastPause") or 0),
                    login_time=int(m.get("LoginTime") or 0),
                    in_call=int(m.get("InCall") or 0),
                    status=int(m.get("Status") or 0),
                    paused=m.get("Paused") == "1",
                    reason=m.get("PausedReason"),
                    wrapuptime=int(m.get("Wrapuptime") or 0),
                )
            )
        return queue

    def add(self, interface: str, name: str = "", state_interface: str = "") -> SimMember:
        """A static member, unpaused (as queues.conf's ``member =>`` line makes one)."""
        member = SimMember(
            interface, name or interface, state_interface or interface, login_time=int(time.time())
        )
        self.members.append(member)
        return member

    def member(self, interface: str) -> SimMember | None:
        """The member whose interface is ``interface``."""
        return next((m for m in self.members if m.interface == interface), None)

    def restart(self) -> None:
        """Asterisk restarted: every static member is back, unpaused, reason cleared.

        So Asterisk 22 did in ``live_queue_status_startup``, ``persistentmembers = yes``
        notwithstanding (that keeps dynamic members only).
        """
        now = int(time.time())
        for member in self.members:
            member.paused, member.reason, member.last_pause = False, "", 0
            member.login_time, member.in_call = now, 0

    def status_frames(self, action_id: str, member_filter: str = "") -> bytes:
        """``QueueStatus``'s event list for this queue (after the response)."""
        aid = ("ActionID", action_id)
        out = [_frame([("Event", "QueueParams"), ("Queue", self.name), *self.params, aid])]
        listed = [m for m in self.members if not member_filter or m.interface == member_filter]
        for m in listed:
            out.append(
                _frame(
                    [
                        ("Event", "QueueMember"),
                        ("Queue", self.name),
                        ("Name", m.name),
                        ("Location", m.interface),
                        ("StateInterface", m.state_interface),
                        ("Membership", m.membership),
                        ("Penalty", str(m.penalty)),
                        ("CallsTaken", str(m.calls_taken)),
                        ("LastCall", str(m.last_call)),
                        ("LastPause", str(m.last_pause)),
                        ("LoginTime", str(m.login_time)),
                        ("InCall", str(m.in_call)),
                        ("Status", str(m.status)),
                        ("Paused", "1" if m.paused else "0"),
                        ("PausedReason", m.reason),
                        ("Wrapuptime", str(m.wrapuptime)),
                        aid,
                    ]
                )
            )
        return b"".join(out)

    def pause(self, interface: str, paused: bool, reason: str) -> bytes | None:
        """Pause or unpause a member; the events Asterisk sends, or None if no member.

        ``DeviceStateChange`` of ``Queue:<queue>_avail`` follows when the queue gains
        its first or loses its last available member, as in ``live_queue_status``.
        """
        member = self.member(interface)
        if member is None:
            return None
        was_available = any(m.available() for m in self.members)
        now = time.time()
        member.paused = paused
        member.reason = reason
        if paused:
            member.last_pause = int(now)
        stamp = ("Timestamp", f"{now:.6f}")
        state = "INUSE" if paused else "NOT_INUSE"
        out = [
            _frame(
                [
                    ("Event", "DeviceStateChange"),
                    ("Privilege", "call,all"),
                    stamp,
                    ("Device", f"Queue:{self.name}_pause_{interface}"),
                    ("State", state),
                ]
            )
        ]
        available = any(m.available() for m in self.members)
        if available != was_available:
            out.append(
                _frame(
                    [
                        ("Event", "DeviceStateChange"),
                        ("Privilege", "call,all"),
                        stamp,
                        ("Device", f"Queue:{self.name}_avail"),
                        ("State", "NOT_INUSE" if available else "INUSE"),
                    ]
                )
            )
        out.append(
            _frame(
                [
                    ("Event", "QueueMemberPause"),
                    ("Privilege", "agent,all"),
                    stamp,
                    ("Queue", self.name),
                    ("MemberName", member.name),
                    ("Interface", member.interface),
                    ("StateInterface", member.state_interface),
                    ("Membership", member.membership),
                    ("Penalty", str(member.penalty)),
                    ("CallsTaken", str(member.calls_taken)),
                    ("LastCall", str(member.last_call)),
                    ("LastPause", str(member.last_pause)),
                    ("LoginTime", str(member.login_time)),
                    ("InCall", str(member.in_call)),
                    ("Status", str(member.status)),
                    ("Paused", "1" if paused else "0"),
                    ("PausedReason", reason),
                    ("Ringinuse", "0"),
                    ("Wrapuptime", str(member.wrapuptime)),
                ]
            )
        )
        return b"".join(out)
