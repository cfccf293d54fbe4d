"""Re-score jobs in the service's background: started by the API, resumed when their run is gone,
released on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from scorer.scoring import Scorer

log = logging.getLogger(__name__)


class RescoreJobs:
    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self.stopping = threading.Event()  # read by the runs' threads
        self.running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._resumer: asyncio.Task[None] | None = None

    def start(self, job_id: str, claim: str) -> None:
        task = asyncio.create_task(asyncio.to_thread(self.scorer.rescore, job_id, claim, stop=self.stopping))
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    def resume_orphans(self, every_s: float) -> None:
        """Jobs left `queued`/`running` by a process that crashed or stopped are resumed rather than
        failed (running a job again is safe and finishes what was asked): at start-up, then every
        `every_s` for those of a replica that died meanwhile. A job that cannot run any more (its
        scorecard version is gone) ends `failed` with the reason."""
        self._resumer = asyncio.create_task(self._resume_orphans(every_s))

    async def _resume_orphans(self, every_s: float) -> None:
        while not self.stopping.is_set():
            try:
                for job_id, claim in await asyncio.to_thread(self.scorer.claim_orphaned_jobs):
                    log.info("resuming re-score job", extra={"job_id": job_id})
                    self.start(job_id, claim)  # when stopping, the run releases the job at once
            except Exception:
                log.exception("could not look for re-score jobs to resume; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), every_s)

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Runs stop before their next call and release their jobs, left `running` for the next start."""
        self.stopping.set()
        self._wake.set()
        if self._resumer is not None:
            await self._resumer  # not cancelled: a claim it is making must reach a run that releases it
        if self.running:
            await asyncio.wait(set(self.running), timeout=timeout_s)
