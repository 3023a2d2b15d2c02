"""Which Asterisk node a FastAGI ``route`` request comes from (issue #16).

A call is keyed ``<node>:<linkedid>`` everywhere (the tracker, the claims, the shared
waiting list): the router must key a route request by the node the call is on, or the
call's end (heard on that node's AMI) never finds the operator claimed for it. With
one node that is the only node. With several, in this order:

1. what the dialplan says: the seventh ``route`` argument, ``${CALLAGENT_NODE}``
   (dialplan/extensions.conf's [globals]: each node's name as in CALLAGENT_AMI_NODES);
   a dialplan that passes fewer arguments is asked ``GET VARIABLE CALLAGENT_NODE``;
2. the FastAGI peer's address, when exactly one configured node has it (``host`` of
   CALLAGENT_AMI_NODES, resolved once) -- unreliable behind NAT or with every node on
   one host, hence only second;
3. the first node, with a WARNING once per unknown name or address (as before issue #16).

Linkedids are not unique across nodes (Asterisk's uniqueid is ``epoch.sequence``
unless ``systemname`` is set), so the linkedid alone cannot say it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable

log = logging.getLogger(__name__)


class NodeNames:
    """The configured nodes and how a route request names its own."""

    def __init__(self, nodes: Iterable[tuple[str, str]]) -> None:
        """``nodes``: (name, AMI host) in CALLAGENT_AMI_NODES's order (the first is the
        default)."""
        pairs = list(nodes)
        self.names = [name for name, _ in pairs]
        self.default = self.names[0] if self.names else "pbx1"
        by_address: dict[str, list[str]] = {}
        for name, host in pairs:
            for address in _addresses(host):
                by_address.setdefault(address, []).append(name)
        # an address several nodes share (every node on one host) says nothing
        self._by_address = {a: ns[0] for a, ns in by_address.items() if len(ns) == 1}
        self._warned: set[str] = set()

    @property
    def several(self) -> bool:
        """More than one node: a request must say which (one node: nothing to ask)."""
        return len(self.names) > 1

    def resolve(self, said: str | None, peer: str | None) -> str:
        """The node of a request: ``said`` by the dialplan, else the peer's address,
        else the first node."""
        if said:
            if said in self.names:
                return said
            self._warn_once(f"name:{said}", "CALLAGENT_NODE %r is not a configured node", said)
        if peer:
            node = self._by_address.get(peer)
            if node is not None:
                return node
        if self.several:
            # the address is logged, never a caller's number
            self._warn_once(
                f"peer:{peer}",
                "a route request from %s names no node (CALLAGENT_NODE in the dialplan's "
                "[globals]): keyed by the first node, %s",
                peer or "?",
                self.default,
            )
        return self.default

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key in self._warned or len(self._warned) > 100:
            return
        self._warned.add(key)
        log.warning(message, *args)


def _addresses(host: str) -> set[str]:
    """The IP addresses ``host`` stands for (itself if it does not resolve now)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return {host}
    return {str(info[4][0]) for info in infos} | {host}
