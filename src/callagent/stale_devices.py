"""Phones that "ring" far longer than any call rings them: ask the PBX again.

callagent routes only to an operator whose phone is free, so one lost
``DeviceStateChange`` NOT_INUSE (a missed event, a PBX module that did not send it)
would keep that operator out of routing until the phone next changed state. A device
the tracker has seen RINGING, continuously, for longer than the dial timeout plus a
margin cannot be ringing for a routed call any more: callagent sends ``DeviceStateList``
on that node and the listed states (events like any other) put it right. Real ringing
is simply listed again; a node is asked at most once per threshold.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from callagent.monitor import Monitor

log = logging.getLogger(__name__)

RINGING = "RINGING"


@dataclass
class StaleRinging:
    """Pure: samples of device states in, the nodes to ask again out."""

    threshold: float  # seconds of RINGING after which a device is suspect
    since: dict[tuple[str, str], float] = field(default_factory=dict)  # ringing since
    asked: dict[str, float] = field(default_factory=dict)  # node -> when last asked

    def sample(self, states: Iterable[tuple[str, str, str]], now: float) -> dict[str, list[str]]:
        """``(node, device, state)`` as the tracker has them now -> node: suspect devices."""
        ringing = {(node, device) for node, device, state in states if state == RINGING}
        self.since = {key: self.since.get(key, now) for key in ringing}
        suspects: dict[str, list[str]] = {}
        for (node, device), began in self.since.items():
            if (
                now - began >= self.threshold
                and now - self.asked.get(node, -1e18) >= self.threshold
            ):
                suspects.setdefault(node, []).append(device)
        for node in suspects:
            self.asked[node] = now
        return suspects


async def watch_devices(monitor: Monitor, *, threshold: float, period: float = 2.0) -> None:
    """Every ``period`` s: ask each node with a suspect phone for its device states."""
    watch = StaleRinging(threshold)
    loop = asyncio.get_running_loop()
    clients = {client.node.name: client for client in monitor.clients}
    while True:
        await asyncio.sleep(period)
        states = [(n, d, s.state) for (n, d), s in monitor.tracker.devices.items()]
        for node, devices in watch.sample(states, loop.time()).items():
            client = clients.get(node)
            if client is None or not client.connected:
                continue
            log.info(
                "node %s: %s RINGING for over %.0f s; asking the PBX for its device states",
                node,
                ", ".join(sorted(devices)),
                threshold,
            )
            try:
                await client.send_action({"Action": "DeviceStateList"})
            except Exception as exc:  # the next sample tries again
                log.warning("node %s: DeviceStateList failed: %s", node, exc)
