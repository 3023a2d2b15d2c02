"""Requests that arrive together go to the database together (group commit).

Most of a routing read's or claim's cost is per round trip (the hop to a worker thread,
the statements, the commit), not per call. While one batch is in the database, the
requests that arrive queue up and go together in the next one: at low load a batch is
one call and nothing waits; under load the cost per call falls as the batches grow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Q = TypeVar("Q")
R = TypeVar("R")


class GroupCommit(Generic[Q, R]):
    """Runs ``run(requests) -> results`` (blocking, one result per request, in order) on
    a worker thread for the requests pending, at most ``max_batch`` at a time.

    ``orphaned(request, result)`` is awaited for a result whose asker gave up meanwhile
    (hung up, timed out): what was taken for it can be given back.
    """

    def __init__(
        self,
        run: Callable[[list[Q]], list[R]],
        *,
        max_batch: int = 64,
        orphaned: Callable[[Q, R], Awaitable[None]] | None = None,
    ) -> None:
        self._run = run
        self.max_batch = max_batch
        self._orphaned = orphaned
        self._pending: list[tuple[Q, asyncio.Future[R]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self.batches = 0  # batches that reached the database and came back
        self.done = 0  # requests answered in them

    async def ask(self, request: Q) -> R:
        """The result for ``request``, from the next batch that takes it."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                results = await asyncio.to_thread(self._run, [request for request, _ in batch])
            except Exception as exc:  # the database may be away: each asker hears it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.done += len(batch)
            for (request, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
                elif self._orphaned is not None:
                    await self._orphaned(request, result)
