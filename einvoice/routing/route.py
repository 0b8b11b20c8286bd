"""The ``route`` job: parsed → matched → in_approval, with the invoice's deadlines.

Enqueued by the ``process`` job in the transaction that makes an item ``parsed``. One transaction,
under the item's row lock:

1. `matching.match_item`: the rule set assigns unit, cost centre and account (→ ``matched``), or
   the item stays ``parsed`` in the Rechnungseingangsstelle's manual queue;
2. `deadlines.compute_for_item`: Skonto deadlines and amounts, due and legal payment dates, the
   inbox priority (also for items in the manual queue: their urgency shows there too);
3. `workflow.start_case` for matched items: the approval chain that fits unit, cost centre and
   amount starts (→ ``in_approval``). Without a fitting workflow the item stays ``matched`` and an
   audit event says so.

Idempotent: every step looks at the state first, so a retried job does nothing twice.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..jobs.registry import JobContext, job_kind, periodic
from ..store.db import Database
from ..store.models import IntakeItem, ItemState, Job
from .clock import SYSTEM_CLOCK, Clock

S = ItemState
JOB_KIND = "route"


def route_in_session(session: Session, item: IntakeItem, *, actor: str, clock: Clock = SYSTEM_CLOCK,
                     context=None) -> str:
    """Take a locked item as far as routing goes without a person; returns its state."""
    from .deadlines.service import compute_for_item
    from .matching.service import match_item
    from .workflow.cases import start_case
    from .workflow.definitions import NoWorkflow

    if item.state == S.PARSED:
        match_item(session, item, actor=actor, context=context)
    if item.state in (S.PARSED, S.MATCHED):
        compute_for_item(session, item, clock=clock)
    if item.state == S.MATCHED:
        try:
            start_case(session, item, actor=actor, clock=clock)
        except NoWorkflow as exc:
            from ..intake.states import audit

            audit(item, actor=actor, event="workflow", reason=f"Kein passender Freigabe-Workflow: {exc}")
    return item.state


def route_item(db: Database, item_id: int, *, actor: str = "system:route", clock: Clock = SYSTEM_CLOCK,
               context=None) -> str:
    with db.transaction() as session:
        item = session.get(IntakeItem, item_id, with_for_update=True)
        if item is None:
            raise LookupError(f"no intake item #{item_id}")
        return route_in_session(session, item, actor=actor, clock=clock, context=context)


def continue_routing(session: Session, items: list[IntakeItem] | None = None) -> int:
    """Queue the route job for matched items (after a manual assignment or a re-run of matching made
    them ``matched``): the job computes their deadlines for the new unit and starts the approval.
    ``items`` None: every matched item without a queued route job. Returns the number queued."""
    from sqlalchemy import select

    from ..jobs.queue import enqueue
    from ..store.models import JobState

    if items is None:
        items = list(session.scalars(select(IntakeItem).where(IntakeItem.state == S.MATCHED)))
    pending = set(session.scalars(select(Job.item_id).where(
        Job.kind == JOB_KIND, Job.state.in_((JobState.QUEUED, JobState.RUNNING)))))
    queued = 0
    for item in items:
        if item.state == S.MATCHED and item.id not in pending:
            enqueue(session, JOB_KIND, item_id=item.id)
            queued += 1
    return queued


@job_kind(JOB_KIND)
def route_job(ctx: JobContext, job: Job) -> None:
    route_item(ctx.db, job.item_id, actor=ctx.actor)


SCHEDULER_TICK_SECONDS = 60.0


@periodic("deadlines-scheduler", every_seconds=SCHEDULER_TICK_SECONDS)
def deadlines_tick(ctx: JobContext) -> None:
    """Every worker looks once a minute for due scheduler tasks (daily reminders, escalations, digests,
    lost Skonto); `deadlines.scheduler.run_due` leases each task in the database, so it runs once
    however many workers there are, and a restart neither skips nor repeats one."""
    from .deadlines.scheduler import run_due

    run_due(ctx.db, clock=SYSTEM_CLOCK, worker_id=ctx.worker_id)
