"""The variables of calls first met in a resync listing, read back with AMI ``Status``.

A call that began while callagent was away was attached mid-call: the ``VarSet``
events that told its dialplan variables (``CALLAGENT_*``, the recording's
``MIXMONITOR_FILENAME``) went by unseen. Asterisk still has them on the channel;
``Status`` with ``AllVariables: true`` (Asterisk 16+) lists them as repeated
``Variable: NAME=VALUE`` headers. One action per such call, on its first channel
(where the dialplan of the shipped ``extensions.conf`` sets them).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from callagent.tracker.tracker import Tracker

log = logging.getLogger(__name__)


class _Sends(Protocol):
    async def send_action(
        self, action: dict[str, Any], *, as_list: bool | None = None, timeout: float = 10.0
    ) -> Any: ...


def parse_variables(item: Any) -> dict[str, str]:
    """``Variable: NAME=VALUE`` headers of one ``Status`` event (one or repeated)."""
    raw = item.get("Variable") if hasattr(item, "get") else None
    values = raw if isinstance(raw, list) else [raw] if raw else []
    out: dict[str, str] = {}
    for value in values:
        name, sep, rest = str(value).partition("=")
        if sep and name:
            out[name] = rest
    return out


async def read_listed_variables(client: _Sends, tracker: Tracker, node: str) -> int:
    """Fill the variables of ``node``'s calls attached mid-call; returns how many calls."""
    filled = 0
    for call in [c for c in tracker.active_calls(node) if c.partial and not c.variables]:
        leg = call.legs.get(call.linkedid) or next(iter(call.legs.values()), None)
        if leg is None:
            continue
        action = {"Action": "Status", "Channel": leg.channel, "AllVariables": "true"}
        try:
            listing = await client.send_action(action, as_list=True)
        except Exception as exc:
            log.info("resync of node %s: Status of a channel not available: %s", node, exc)
            continue
        items = listing if isinstance(listing, list) else [listing]
        variables: dict[str, str] = {}
        for item in items:
            if item.get("Event") == "Status":
                variables.update(parse_variables(item))
        if tracker.listed_variables(call.key, variables):
            filled += 1
    return filled
