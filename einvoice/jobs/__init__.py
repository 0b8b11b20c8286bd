"""Database-backed jobs: `queue` (enqueue, claim with lease, retry, dead), `worker` (run_worker), `cli`."""

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


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["JobContext", "claim", "complete", "dead_jobs", "enqueue", "fail", "job_kind", "retry", "run_worker"]
