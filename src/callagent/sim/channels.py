"""The channels a PBX has open, followed from its AMI events: what ``CoreShowChannels``
lists.

Asterisk answers ``CoreShowChannels`` with one ``CoreShowChannel`` per live channel,
newest first, in the shape recorded in ``shared/pbx-traces/coreshowchannels_midcall.ami``:
the channel headers its last event carried, the application it runs (``Dial``, ``Queue``,
``AGI``...; a channel that was dialled runs none and shows ``AppDial`` or ``AppQueue``
with ``(Outgoing Line)``), ``Duration`` as ``HH:MM:SS`` (whole seconds since it was
created) and the ``BridgeId`` of the bridge it is in. The simulator's AMI server feeds
every event it sends through a :class:`ChannelTable`; the resync tests feed recorded
events through one to rebuild the listing a real Asterisk would have given.
"""

from __future__ import annotations

import time

from callagent.ami.parser import AmiMessage

# The headers every channel event carries (a CoreShowChannel item is built from them).
CHANNEL_HEADERS = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)
# What a dialled channel shows as its application, by the application that dialled it.
_DIALLED_BY = {"Queue": "AppQueue"}
_DIALLED_DEFAULT = "AppDial"


class _Channel:
    __slots__ = ("application", "bridge", "created", "data", "headers")

    def __init__(self, created: float) -> None:
        self.created = created
        self.headers: dict[str, str] = {}
        self.application = ""
        self.data = ""
        self.bridge = ""


class ChannelTable:
    """Live channels by Uniqueid, in the order they were created."""

    def __init__(self) -> None:
        self._channels: dict[str, _Channel] = {}

    def __len__(self) -> int:
        return len(self._channels)

    def clear(self) -> None:
        """Every channel is gone (Asterisk restarted)."""
        self._channels.clear()

    def apply(self, message: AmiMessage, at: float | None = None) -> None:
        """Follow one event; ``at`` is when it happened (default: its ``Timestamp``,
        else now)."""
        uniqueid = message.get("Uniqueid")
        if not uniqueid or not message.event:
            return
        event = message.event
        if event == "Hangup":
            self._channels.pop(uniqueid, None)
            return
        channel = self._channels.get(uniqueid)
        if channel is None:
            if event != "Newchannel":
                return  # a channel that was open before we listened: not ours to list
            stamp = message.get("Timestamp")
            created = at if at is not None else (float(stamp) if stamp else time.time())
            channel = self._channels[uniqueid] = _Channel(created)
        channel.headers = {h: message.get(h) for h in CHANNEL_HEADERS}
        if event == "Newexten":
            channel.application = message.get("Application")
            channel.data = message.get("AppData")
        elif event == "BridgeEnter":
            channel.bridge = message.get("BridgeUniqueid")
        elif event == "BridgeLeave":
            channel.bridge = ""
        elif event == "DialBegin":
            dialled = self._channels.get(message.get("DestUniqueid"))
            if dialled is not None and not dialled.application:
                dialled.application = _DIALLED_BY.get(channel.application, _DIALLED_DEFAULT)
                dialled.data = "(Outgoing Line)"

    def listing(self, now: float) -> list[dict[str, str]]:
        """The ``CoreShowChannel`` items at ``now`` (without Event and ActionID), newest
        channel first as Asterisk lists them."""
        out: list[dict[str, str]] = []
        for channel in reversed(self._channels.values()):
            item = dict(channel.headers)
            if channel.application:
                item["Application"] = channel.application
                item["ApplicationData"] = channel.data
            else:  # dialled, by what we did not see: app_queue's is the usual
                item["Application"] = "AppQueue"
                item["ApplicationData"] = "(Outgoing Line)"
            seconds = max(0, int(now - channel.created))
            item["Duration"] = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            item["BridgeId"] = channel.bridge
            out.append(item)
        return out
