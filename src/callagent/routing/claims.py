"""Claims in batches: the route requests that arrive together share one transaction.

Most of a claim's cost is per transaction (the hop to a worker thread, reading who
is free, the commit), not per operator. While one batch is in the database, the
requests that arrive queue up and go together in the next one: at low load a
batch is one call and nothing waits; under load the cost per call falls as the
batches grow (group commit).
"""

from __future__ import annotations

import asyncio
import logging

from callagent.routing.operators import Claimed, ClaimHook, ClaimRequest, OperatorBook

log = logging.getLogger(__name__)


class ClaimBatcher:
    """Hands ``route`` requests to ``OperatorBook.claim_many`` in batches."""

    def __init__(
        self, book: OperatorBook, *, max_batch: int = 64, after: ClaimHook | None = None
    ) -> None:
        self.book = book
        self.after = after  # in each batch's transaction (several instances' shared state)
        self.max_batch = max_batch
        self._pending: list[tuple[ClaimRequest, asyncio.Future[Claimed | None]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self.batches = 0
        self.claims = 0

    async def claim(self, request: ClaimRequest) -> Claimed | None:
        """The operator for ``request`` (None when nobody fits), claimed in the database."""
        future: asyncio.Future[Claimed | None] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                results = await asyncio.to_thread(
                    self.book.claim_many, [request for request, _ in batch], after=self.after
                )
            except Exception as exc:  # the database may be away: each caller hears it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.claims += len(batch)
            for (request, future), claimed in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(claimed)
                elif claimed is not None:
                    # The caller gave up (hung up, timed out) while we claimed: free them.
                    log.info("route for a call that left: operator %s released", claimed.login)
                    await asyncio.to_thread(self.book.release, request.call, cause="caller_gone")
