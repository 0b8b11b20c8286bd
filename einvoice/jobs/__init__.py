"""Database-backed jobs: `queue` (enqueue, claim with lease, retry, dead), `worker` (run_worker), `cli`."""

from ..lazy import lazy_exports

# Loaded on first use (PEP 562), so `einvoice validate` does not import the job queue.
_LAZY = {
    "JobContext": ".registry",
    "claim": ".queue",
    "complete": ".queue",
    "dead_jobs": ".queue",
    "enqueue": ".queue",
    "fail": ".queue",
    "job_kind": ".registry",
    "retry": ".queue",
    "run_worker": ".worker",
}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = ["JobContext", "claim", "complete", "dead_jobs", "enqueue", "fail", "job_kind", "retry", "run_worker"]
