"""Domain events: what the tracker tells the rest of callagent about the PBX."""

from __future__ import annotations

from dataclasses import dataclass

from callagent.tracker.state import CallKey


@dataclass(frozen=True, slots=True)
class CallStarted:
    key: CallKey


@dataclass(frozen=True, slots=True)
class OperatorRinging:
    key: CallKey
    endpoint: str
    uniqueid: str


@dataclass(frozen=True, slots=True)
class CallAnswered:
    key: CallKey
    endpoint: str


@dataclass(frozen=True, slots=True)
class AttemptEnded:
    key: CallKey
    endpoint: str
    outcome: str


@dataclass(frozen=True, slots=True)
class CallHeld:
    key: CallKey
    endpoint: str
    held: bool


@dataclass(frozen=True, slots=True)
class CallTransferred:
    key: CallKey
    kind: str
    by_endpoint: str
    target: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    key: CallKey
    operators: tuple[str, ...] = ()  # endpoints of the operators who talked on the call


@dataclass(frozen=True, slots=True)
class OriginateResult:
    node: str
    action_id: str
    response: str
    reason: str
    uniqueid: str


@dataclass(frozen=True, slots=True)
class DeviceChanged:
    node: str
    device: str


@dataclass(frozen=True, slots=True)
class NodeRestarted:
    """FullyBooted or Shutdown: the PBX restarted or is going down."""

    node: str
    shutdown: bool


DomainEvent = (
    CallStarted
    | OperatorRinging
    | CallAnswered
    | AttemptEnded
    | CallHeld
    | CallTransferred
    | CallEnded
    | OriginateResult
    | DeviceChanged
    | NodeRestarted
)
