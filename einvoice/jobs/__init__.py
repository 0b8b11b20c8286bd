"""Database-backed jobs: `queue` (enqueue, claim with lease, retry, dead), `worker` (run_worker), `cli`."""

from .queue import claim, complete, dead_jobs, enqueue, fail, retry
from .registry import JobContext, job_kind
from .worker import run_worker

__all__ = ["JobContext", "claim", "complete", "dead_jobs", "enqueue", "fail", "job_kind", "retry", "run_worker"]
