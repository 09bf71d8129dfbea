"""Rescoring on ingest: leads touched by new events wait in a bounded queue and are rescored
in batches off the event loop, so a lead's stored score is fresh seconds after its events.

The queue holds lead ids, each once however many events it gets meanwhile. When it is full,
an ingest call waits for room a little, then is refused (503, Retry-After) before it stores
anything: back-pressure on the sender, never unbounded memory in the service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from concurrent.futures import Executor

log = logging.getLogger(__name__)


class Backlogged(RuntimeError):
    """The rescoring queue has no room; the message says how full it is."""


class RescoringQueue:
    """Lead ids to rescore, worked off in batches by `run` (one asyncio task)."""

    def __init__(
        self,
        rescore: Callable[[list[str]], object],
        executor: Executor,
        capacity: int,
        batch_size: int,
        wait_seconds: float,
        share: float = 1.0,
    ) -> None:
        self._rescore = rescore
        self._executor = executor
        self.capacity = capacity
        self._batch_size = batch_size
        self._wait_seconds = wait_seconds
        self._share = share
        self._pending: dict[str, None] = {}  # an ordered set: first touched, first rescored
        self._changed = asyncio.Condition()
        self.rescored = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def make_room(self, lead_ids: Collection[str]) -> None:
        """Wait until the queue can take these leads; `Backlogged` if it cannot in time."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._fits(lead_ids)), self._wait_seconds
                )
            except TimeoutError:
                raise Backlogged(
                    f"rescoring is behind: {len(self._pending):,} leads wait (the queue holds "
                    f"{self.capacity:,}); nothing was stored, send the events again shortly"
                ) from None

    async def add(self, lead_ids: Collection[str]) -> None:
        """Queue leads to rescore (after `make_room`; a lead already queued is not added)."""
        async with self._changed:
            self._pending.update(dict.fromkeys(lead_ids))
            self._changed.notify_all()

    async def run(self) -> None:
        """Rescore queued leads until cancelled; a failed batch is logged, not retried."""
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: bool(self._pending))
                batch = list(self._pending)[: self._batch_size]
                for lead_id in batch:
                    del self._pending[lead_id]
                self._changed.notify_all()
            loop = asyncio.get_running_loop()
            started = loop.time()
            try:
                await loop.run_in_executor(self._executor, self._rescore, batch)
                self.rescored += len(batch)
            except Exception:  # the stored events stay: the next score by id reads them
                log.exception("rescoring %d leads failed", len(batch))
            if self._pending and self._share < 1:
                # Sustained ingestion: rescoring takes its share of the time and leaves the
                # rest to the ingest calls (both need the interpreter); a queue that empties
                # (a lead at a time, as webhooks wait for) never pauses.
                busy = loop.time() - started
                await asyncio.sleep(busy * (1 - self._share) / self._share)

    def _fits(self, lead_ids: Collection[str]) -> bool:
        new = sum(1 for lead_id in lead_ids if lead_id not in self._pending)
        # A call touching more leads than the whole queue holds waits for an empty queue.
        return new == 0 or len(self._pending) + new <= self.capacity or not self._pending
