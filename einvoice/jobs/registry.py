"""Job kinds: a handler per kind, and what happens to the subject when a job is dead.

A handler is ``handler(ctx: JobContext, job: Job) -> None``; it opens its own transactions through
``ctx.db`` and must be idempotent: a job is retried after a failure or after its worker died, and
running it again on work already done must change nothing. ``on_dead(session, job, error, actor)``
runs in the transaction that marks the job dead (e.g. the item goes to ``failed``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from ..config import Settings
from ..store.db import Database
from ..store.models import Job

Handler = Callable[["JobContext", Job], None]
DeadHandler = Callable[[Session, Job, str, str], None]


@dataclass
class JobKind:
    name: str
    handler: Handler
    on_dead: DeadHandler | None = None


KINDS: dict[str, JobKind] = {}


def job_kind(name: str, *, on_dead: DeadHandler | None = None) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of job kind ``name``."""

    def register(handler: Handler) -> Handler:
        KINDS[name] = JobKind(name, handler, on_dead)
        return handler

    return register


@dataclass
class PeriodicTask:
    """Work a running worker does every ``every_seconds`` besides jobs (e.g. the deadline scheduler,
    whose own lease in the database keeps several workers from running it twice)."""

    name: str
    handler: Callable[["JobContext"], Any]
    every_seconds: float


PERIODIC: dict[str, PeriodicTask] = {}


def periodic(name: str, *, every_seconds: float) -> Callable[[Callable], Callable]:
    """Register the decorated ``handler(ctx)`` to run every ``every_seconds`` in each long-running worker."""
    def register(handler: Callable[["JobContext"], Any]) -> Callable[["JobContext"], Any]:
        PERIODIC[name] = PeriodicTask(name, handler, every_seconds)
        return handler
    return register


@dataclass
class JobContext:
    """What a handler gets besides the job: the database, the settings, who it is, per-process caches."""

    db: Database
    worker_id: str
    resources: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return self.db.settings

    @property
    def actor(self) -> str:
        return f"worker:{self.worker_id}"

    def cached(self, name: str, factory: Callable[[], Any]) -> Any:
        """A per-process resource (e.g. the ValidationEngine), made on first use."""
        if name not in self.resources:
            self.resources[name] = factory()
        return self.resources[name]
