"""Mirroring operators' availability into an app_queue fallback with AMI QueuePause.

Plain app_queue knows only a fixed ``wrapuptime``; with this, a call that falls back
to the queue never rings an operator in after-call work, on a break or offline.
The AMI answer formats are recorded in ``shared/pbx-traces/queue_pause_unpause.ami``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue

from callagent.ami.client import AmiClient
from callagent.routing.operators import StateChange

log = logging.getLogger(__name__)

# Which states are available to the fallback queue (it rings only these).
_TAKES_QUEUE_CALLS = frozenset({"ready", "ringing", "on_call"})


class QueueMirror:
    """Sends QueuePause / unpause for every operator whose availability changed."""

    def __init__(
        self, changes: queue.SimpleQueue[StateChange], clients: list[AmiClient], queue_name: str
    ) -> None:
        self.changes = changes
        self.clients = clients
        self.queue_name = queue_name
        self.sent = 0

    async def run(self, interval: float = 0.1) -> None:
        """Forward changes forever (until cancelled)."""
        while True:
            while True:
                try:
                    change = self.changes.get_nowait()
                except queue.Empty:
                    break
                await self.forward(change)
            await asyncio.sleep(interval)

    async def forward(self, change: StateChange) -> None:
        """One change: pause or unpause the operator's phones in the fallback queue."""
        before = change.from_state in _TAKES_QUEUE_CALLS
        after = change.to_state in _TAKES_QUEUE_CALLS
        if before == after and change.to_state != "paused":
            return
        reason = change.reason or change.to_state
        for endpoint in change.endpoints:
            action = {
                "Action": "QueuePause",
                "Interface": endpoint,
                "Paused": "false" if after else "true",
                "Reason": reason,
            }
            if self.queue_name:
                action["Queue"] = self.queue_name
            for client in self.clients:
                if not client.connected:
                    continue
                with contextlib.suppress(Exception):  # not a member there: nothing to mirror
                    await client.send_action(action, timeout=2.0)
                    self.sent += 1
