"""Claims in batches: the route requests that arrive together share one transaction
(``routing.batching``: reading who is free and the commit cost per transaction, not per
operator)."""

from __future__ import annotations

import asyncio
import logging

from callagent.routing.batching import GroupCommit
from callagent.routing.operators import Claimed, ClaimHook, ClaimRequest, OperatorBook

log = logging.getLogger(__name__)


class ClaimBatcher(GroupCommit[ClaimRequest, Claimed | None]):
    """Hands ``route`` requests to ``OperatorBook.claim_many`` in batches."""

    def __init__(
        self, book: OperatorBook, *, max_batch: int = 64, after: ClaimHook | None = None
    ) -> None:
        # ``after``: in each batch's transaction (several instances' shared state)
        super().__init__(
            lambda requests: book.claim_many(requests, after=after),
            max_batch=max_batch,
            orphaned=self._release,
        )
        self.book = book

    async def claim(self, request: ClaimRequest) -> Claimed | None:
        """The operator for ``request`` (None when nobody fits), claimed in the database."""
        return await self.ask(request)

    async def _release(self, request: ClaimRequest, claimed: Claimed | None) -> None:
        if claimed is not None:  # the caller gave up (hung up, timed out) while we claimed
            log.info("route for a call that left: operator %s released", claimed.login)
            await asyncio.to_thread(self.book.release, request.call, cause="caller_gone")
