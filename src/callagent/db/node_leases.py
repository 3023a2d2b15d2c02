"""AMI node leases in the database: take, renew, release, and the fence every write checks.

A lease row per node (``node_leases``) names its holder, when the lease runs out (by the
database's clock, so instances' clocks never matter) and a fencing token that rises each
time the node is taken. Only PostgreSQL has several instances; SQLite never calls these.

Why a lease row and not ``pg_advisory_lock`` on a dedicated connection: a frozen process
(SIGSTOP, a long GC or swap stall) keeps its TCP connection, so the server keeps its
advisory lock and nobody could take the node over until the kernel gives the socket up
(minutes); and a lock carries no token a later write could be checked against. A row with
an expiry is taken over on time whatever state the holder is in, and its token fences
the old holder's writes even when it wakes up and still believes it holds the node.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from callagent.db.lease_models import NodeLease

_TAKE = text(
    """
    INSERT INTO node_leases (node, owner, token, expires_at, acquired_at, takeovers)
    VALUES (:node, :owner, 1, clock_timestamp() + make_interval(secs => :ttl),
            clock_timestamp(), 0)
    ON CONFLICT (node) DO UPDATE SET
        owner = EXCLUDED.owner,
        token = node_leases.token + 1,
        expires_at = EXCLUDED.expires_at,
        acquired_at = EXCLUDED.acquired_at,
        takeovers = node_leases.takeovers
            + CASE WHEN node_leases.owner <> EXCLUDED.owner THEN 1 ELSE 0 END
    WHERE node_leases.expires_at < clock_timestamp() OR node_leases.owner = EXCLUDED.owner
    RETURNING token
    """
)

_RENEW = text(
    """
    UPDATE node_leases SET expires_at = clock_timestamp() + make_interval(secs => :ttl)
    WHERE node = :node AND owner = :owner AND token = :token
    """
)

# Expired at once: another instance takes the node at its next look, not after the TTL.
_RELEASE = text(
    """
    UPDATE node_leases SET expires_at = clock_timestamp() - interval '1 second'
    WHERE node = :node AND owner = :owner AND token = :token
    """
)


def wait_for_locks(session: Session, milliseconds: int, idle_ms: int = 0) -> None:
    """Give up on a row lock after ``milliseconds`` in this transaction (a lease round
    never hangs on a holder frozen inside a write: it fails and tries again later); with
    ``idle_ms``, PostgreSQL ends this session should it freeze inside the transaction, so
    the lease row it locked is not locked for longer than that."""
    session.execute(text(f"SET LOCAL lock_timeout = {int(milliseconds)}"))
    if idle_ms > 0:
        session.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {int(idle_ms)}"))


def take(session: Session, node: str, owner: str, ttl: float) -> int | None:
    """Take ``node`` if its lease ran out (or was ``owner``'s: a restart); the new token.

    ``owner`` taking back its own unexpired lease is a restarted instance under the same
    name (host and port: two live processes cannot share them); its token still rises, so
    anything the previous process left in flight is refused.
    """
    token = session.execute(_TAKE, {"node": node, "owner": owner, "ttl": ttl}).scalar()
    return None if token is None else int(token)


def renew(session: Session, node: str, owner: str, token: int, ttl: float) -> bool:
    """Extend the lease held under ``token``; False when another instance took the node."""
    result = session.execute(_RENEW, {"node": node, "owner": owner, "token": token, "ttl": ttl})
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, node: str, owner: str, token: int) -> None:
    """Let the node go at once (a clean stop)."""
    session.execute(_RELEASE, {"node": node, "owner": owner, "token": token})


def holders(session: Session) -> dict[str, tuple[str, int, datetime, int]]:
    """Every node's holder, token, expiry and takeovers (for /readyz and tests)."""
    rows = session.execute(
        select(
            NodeLease.node,
            NodeLease.owner,
            NodeLease.token,
            NodeLease.expires_at,
            NodeLease.takeovers,
        )
    )
    return {node: (owner, token, expires, moves) for node, owner, token, expires, moves in rows}


@dataclass
class NodeFence:
    """The tokens this instance holds; every write for a node checks its token first.

    ``tokens`` is changed by the ownership loop (on the event loop) and read by the writer
    (in a worker thread): a dict's item assignment is atomic, and a token read a moment
    early is checked against the row anyway.
    """

    owner: str
    tokens: dict[str, int] = field(default_factory=dict)
    # A process frozen inside a checked transaction would hold the row's share lock, and
    # so block the takeover, for as long as it is frozen: PostgreSQL ends such a session
    # once it has been idle in its transaction this long (milliseconds; 0: never).
    idle_timeout_ms: int = 0
    # told (from the writer's thread) which nodes' writes were refused
    on_refused: Callable[[set[str]], None] | None = None
    refused_writes: int = 0

    def refused(self, session: Session, nodes: Collection[str]) -> set[str]:
        """The ``nodes`` this instance may not write for, in this transaction.

        The rows are read ``FOR SHARE``: a takeover (an UPDATE of the row) waits until this
        transaction ends, so a write checked here commits before the new holder reads the
        node's calls, never after.
        """
        wanted = set(nodes)
        if not wanted:
            return set()
        if self.idle_timeout_ms > 0:
            session.execute(
                text(f"SET LOCAL idle_in_transaction_session_timeout = {int(self.idle_timeout_ms)}")
            )
        rows = session.execute(
            select(NodeLease.node, NodeLease.owner, NodeLease.token)
            .where(NodeLease.node.in_(sorted(wanted)))
            .with_for_update(read=True)
        )
        allowed = {
            node
            for node, owner, token in rows
            if owner == self.owner and self.tokens.get(node) == token
        }
        refused = wanted - allowed
        if refused:
            self.refused_writes += 1
            if self.on_refused is not None:
                self.on_refused(refused)
        return refused
