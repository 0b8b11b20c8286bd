"""Prometheus metrics read from the DATABASE at scrape time (served as ``GET /metrics`` by `web.ops`).

Every number comes from a few aggregate queries in one read transaction when Prometheus scrapes, not
from counters kept in process memory: N web processes and M workers on one PostgreSQL all report the
same figures, restarts lose nothing, and no multiprocess mode is needed. Scrape any one instance.

Metrics (all gauges unless said otherwise):

- ``einvoice_intake_items{state,channel}``: items per state and channel (every combination, 0 too).
- ``einvoice_intake_received_total{channel}`` (counter): items ever received (items are never deleted).
- ``einvoice_jobs{kind,status}``: the job queue. ``status``: ``queued`` (due, waiting for a worker),
  ``scheduled`` (a retry or a later run, not yet due), ``running`` (lease held), ``stale`` (running,
  lease ran out: its worker is gone, another takes it over), ``dead`` (gave up; needs a person).
- ``einvoice_oldest_queued_job_age_seconds``: how long the oldest due job has waited (0: none).
- ``einvoice_validations_total{valid}`` (counter): stored validation reports.
- ``einvoice_validation_duration_seconds`` (gauge histogram, ``_bucket``/``_gsum``/``_gcount``) and
  ``einvoice_validation_duration_quantile_seconds{quantile}``: validation wall time of the newest
  reports (at most `WINDOW_REPORTS`, at most `WINDOW_SECONDS` old), from ``report["timings_ms"]["total"]``
  that the ``process`` job stores (reports from before it stored timings are left out).
- ``einvoice_skonto_at_risk_eur{window}`` / ``einvoice_skonto_at_risk_invoices{window}``: Skonto of
  invoices still open in approval (item ``parsed``, ``matched``, ``in_approval``; Skonto status
  ``open``): ``window="soon"``: the best reachable Skonto deadline is at most N working days away
  (N = ``EINVOICE_SKONTO_REMINDER_DAYS``, as the reminders; working days of the unit's Land);
  ``window="passed"``: the deadline is already past (the scheduler will move to a lower staggered term
  or record it lost). Amount = the discount of that term.
- ``einvoice_skonto_eur{status}`` / ``einvoice_skonto_invoices{status}``: offered / captured / lost /
  open, as `routing.deadlines.metrics` (the ``/api/v1/metrics/skonto`` figures, all months summed).
- ``einvoice_approval_open{unit,status}``: open approval steps per unit (``status`` open or parked).
- ``einvoice_mail_notices{kind,status}``: supplier notices by mail (sending, sent, failed, unknown).
- ``einvoice_reminders{kind,status}``: reminder, escalation and digest mails.
- ``einvoice_scheduler_last_run_timestamp_seconds{task}``: last run of the deadline scheduler's tasks
  (it runs inside long-running workers: an old value means no worker runs).
- ``einvoice_database_up``: 1, or 0 when the queries failed (then only this and the timing follow).
- ``einvoice_metrics_collect_seconds``: how long these queries took.

Money is summed exactly: PostgreSQL ``SUM`` of NUMERIC; on SQLite (money as text, always two
decimals) the sum of the integer cents.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily, Metric,
)
from sqlalchemy import Integer, case, cast, func, literal_column, select, text
from sqlalchemy.orm import Session

from ..config import Settings
from ..routing.clock import SYSTEM_CLOCK, Clock, today
from ..routing.deadlines.calendar import UnknownLand, land_for, working_days_between
from ..store.db import Database
from ..store.mail_models import MailNotification, NoticeKind
from ..store.masterdata_models import OrgUnit
from ..store.models import Channel, IntakeItem, ItemState, Job, JobState, ValidationReport
from ..store.routing_models import (ApprovalCase, ApprovalStep, CaseStatus, InvoiceDeadline, Reminder,
                                    SchedulerRun, SkontoStatus, StepState)

log = logging.getLogger("einvoice.web.metrics")

WINDOW_REPORTS = 500
WINDOW_SECONDS = 3600
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
QUANTILES = (0.5, 0.9, 0.99)
OPEN_ITEM_STATES = (ItemState.PARSED.value, ItemState.MATCHED.value, ItemState.IN_APPROVAL.value)
JOB_STATUSES = ("queued", "scheduled", "running", "stale", "dead")
NOTICE_STATES = ("sending", "sent", "failed", "unknown")
REMINDER_KINDS = ("skonto-reminder", "escalation", "digest")
ZERO = Decimal("0.00")
CENT = Decimal("0.01")


@dataclass
class Snapshot:
    """The figures of one scrape (also what the tests check)."""

    items: dict[tuple[str, str], int] = field(default_factory=dict)  # (state, channel)
    jobs: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, status)
    oldest_queued_age: float = 0.0
    validations: dict[bool, int] = field(default_factory=dict)
    validation_seconds: list[float] = field(default_factory=list)
    at_risk: dict[str, tuple[int, Decimal]] = field(default_factory=dict)  # window: (count, EUR)
    skonto: dict[str, tuple[int, Decimal]] = field(default_factory=dict)  # status: (count, EUR)
    approval_open: dict[tuple[str, str], int] = field(default_factory=dict)  # (unit code, case status)
    notices: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, state)
    reminders: dict[tuple[str, str], int] = field(default_factory=dict)
    scheduler_last_run: dict[str, float] = field(default_factory=dict)
    soon_working_days: int = 3


def _money_sum(session: Session, column):
    """An exact SUM of a money column as an SQL expression (PostgreSQL: NUMERIC; SQLite: cents)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.coalesce(func.sum(cast(func.replace(column, ".", ""), Integer)), 0)
    return func.coalesce(func.sum(column), 0)


def _as_money(session: Session, value) -> Decimal:
    if session.get_bind().dialect.name == "sqlite":
        return (Decimal(int(value or 0)) * CENT).quantize(CENT)
    return Decimal(value or 0).quantize(CENT)


def _items(session: Session, snap: Snapshot) -> None:
    for state, channel, count in session.execute(
            select(IntakeItem.state, IntakeItem.channel, func.count()).group_by(IntakeItem.state, IntakeItem.channel)):
        snap.items[(state, channel)] = count


def _jobs(session: Session, snap: Snapshot, now: datetime) -> None:
    due = case((Job.run_after <= now, 1), else_=0)
    expired = case((Job.locked_until < now, 1), else_=0)
    rows = session.execute(
        select(Job.kind, Job.state, due, expired, func.count())
        .where(Job.state.in_([JobState.QUEUED.value, JobState.RUNNING.value, JobState.DEAD.value]))
        .group_by(text("1"), text("2"), text("3"), text("4")))
    for kind, state, is_due, is_expired, count in rows:
        if state == JobState.QUEUED.value:
            status = "queued" if is_due else "scheduled"
        elif state == JobState.RUNNING.value:
            status = "stale" if is_expired else "running"
        else:
            status = "dead"
        snap.jobs[(kind, status)] = snap.jobs.get((kind, status), 0) + count
    oldest = session.scalar(select(func.min(Job.run_after)).where(Job.state == JobState.QUEUED.value,
                                                                  Job.run_after <= now))
    snap.oldest_queued_age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


def _validation(session: Session, snap: Snapshot, now: datetime) -> None:
    for valid, count in session.execute(select(ValidationReport.valid, func.count()).group_by(ValidationReport.valid)):
        snap.validations[bool(valid)] = count
    if session.get_bind().dialect.name == "sqlite":
        total = literal_column("json_extract(validation_reports.report, '$.timings_ms.total')")
    else:
        total = literal_column("(validation_reports.report #>> '{timings_ms,total}')")
    newest = session.execute(select(ValidationReport.created_at, total)
                             .order_by(ValidationReport.id.desc()).limit(WINDOW_REPORTS))
    since = now - timedelta(seconds=WINDOW_SECONDS)
    for created_at, milliseconds in newest:
        if milliseconds is None or created_at is None or created_at < since:
            continue
        try:
            snap.validation_seconds.append(float(milliseconds) / 1000.0)
        except (TypeError, ValueError):
            continue


def _skonto(session: Session, snap: Snapshot, settings: Settings, clock: Clock) -> None:
    on = today(clock)
    days = max(0, int(getattr(settings, "skonto_reminder_days", 3)))
    snap.soon_working_days = days
    horizon = on + timedelta(days=2 * days + 14)  # N working days never span more calendar days than this
    rows = session.execute(  # one row per (deadline, Land): the working days are counted per group
        select(InvoiceDeadline.skonto_deadline, OrgUnit.bundesland, func.count(),
               _money_sum(session, InvoiceDeadline.skonto_amount))
        .join(IntakeItem, IntakeItem.id == InvoiceDeadline.item_id)
        .outerjoin(OrgUnit, OrgUnit.id == InvoiceDeadline.unit_id)
        .where(InvoiceDeadline.skonto_status == SkontoStatus.OPEN.value,
               InvoiceDeadline.skonto_deadline.is_not(None), InvoiceDeadline.skonto_deadline <= horizon,
               IntakeItem.state.in_(OPEN_ITEM_STATES))
        .group_by(InvoiceDeadline.skonto_deadline, OrgUnit.bundesland))
    at_risk = {"soon": [0, ZERO], "passed": [0, ZERO]}
    for deadline, unit_land, count, amount in rows:
        if deadline < on:
            window = "passed"
        else:
            try:
                land = land_for(unit_land, settings)
            except UnknownLand:
                land = land_for(None, None)
            if working_days_between(on, deadline, land) > days:
                continue
            window = "soon"
        at_risk[window][0] += count
        at_risk[window][1] += _as_money(session, amount)
    snap.at_risk = {window: (count, amount) for window, (count, amount) in at_risk.items()}

    counted = [SkontoStatus.OPEN.value, SkontoStatus.CAPTURED.value, SkontoStatus.LOST.value]
    sums = {status: (0, ZERO, ZERO) for status in counted}
    for status, count, offered, outcome in session.execute(
            select(InvoiceDeadline.skonto_status, func.count(), _money_sum(session, InvoiceDeadline.offered_amount),
                   _money_sum(session, InvoiceDeadline.outcome_amount))
            .where(InvoiceDeadline.skonto_status.in_(counted)).group_by(InvoiceDeadline.skonto_status)):
        sums[status] = (count, _as_money(session, offered), _as_money(session, outcome))
    snap.skonto = {
        "offered": (sum(c for c, _, _ in sums.values()), sum((o for _, o, _ in sums.values()), ZERO)),
        "open": (sums["open"][0], sums["open"][1]),
        "captured": (sums["captured"][0], sums["captured"][2]),
        "lost": (sums["lost"][0], sums["lost"][2]),
    }


def _approvals(session: Session, snap: Snapshot) -> None:
    for code in session.scalars(select(OrgUnit.code)):
        for status in (CaseStatus.OPEN.value, CaseStatus.PARKED.value):
            snap.approval_open[(code, status)] = 0
    rows = session.execute(
        select(OrgUnit.code, ApprovalCase.status, func.count())
        .select_from(ApprovalStep).join(ApprovalCase, ApprovalCase.id == ApprovalStep.case_id)
        .outerjoin(OrgUnit, OrgUnit.id == ApprovalStep.unit_id)
        .where(ApprovalStep.state == StepState.OPEN.value,
               ApprovalCase.status.in_([CaseStatus.OPEN.value, CaseStatus.PARKED.value]))
        .group_by(OrgUnit.code, ApprovalCase.status))
    for code, status, count in rows:
        snap.approval_open[(code or "-", status)] = count


def _mail(session: Session, snap: Snapshot) -> None:
    for kind, state, count in session.execute(select(MailNotification.kind, MailNotification.state, func.count())
                                              .group_by(MailNotification.kind, MailNotification.state)):
        snap.notices[(kind, state)] = count
    for kind, state, count in session.execute(select(Reminder.kind, Reminder.state, func.count())
                                              .group_by(Reminder.kind, Reminder.state)):
        snap.reminders[(kind, state)] = count
    for name, last_run in session.execute(select(SchedulerRun.name, SchedulerRun.last_run_at)):
        if last_run is not None:
            snap.scheduler_last_run[name] = last_run.timestamp()


def read_snapshot(db: Database, *, settings: Settings | None = None, clock: Clock = SYSTEM_CLOCK) -> Snapshot:
    """All figures, from one read transaction (raises when the database fails)."""
    settings = settings or db.settings
    now = clock.now()
    snap = Snapshot()
    with db.read() as session:
        _items(session, snap)
        _jobs(session, snap, now)
        _validation(session, snap, now)
        _skonto(session, snap, settings, clock)
        _approvals(session, snap)
        _mail(session, snap)
    return snap


def quantile(values: list[float], q: float) -> float:
    """The nearest-rank quantile of ``values`` (NaN for none)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(q * len(ordered) - 1e-9)))
    return ordered[rank - 1]


def families(snap: Snapshot) -> Iterable[Metric]:
    """The snapshot as Prometheus metric families."""
    items = GaugeMetricFamily("einvoice_intake_items", "Intake items per state and channel",
                              labels=["state", "channel"])
    received = CounterMetricFamily("einvoice_intake_received", "Intake items received (ever) per channel",
                                   labels=["channel"])
    for channel in Channel:
        for state in ItemState:
            items.add_metric([state.value, channel.value], snap.items.get((state.value, channel.value), 0))
        received.add_metric([channel.value], sum(n for (_, c), n in snap.items.items() if c == channel.value))
    yield items
    yield received

    jobs = GaugeMetricFamily("einvoice_jobs", "Jobs in the queue per kind and status "
                             "(queued: due; scheduled: not yet due; running; stale: lease ran out; dead)",
                             labels=["kind", "status"])
    for kind in sorted({kind for kind, _ in snap.jobs} | {"process", "route"}):
        for status in JOB_STATUSES:
            jobs.add_metric([kind, status], snap.jobs.get((kind, status), 0))
    yield jobs
    yield GaugeMetricFamily("einvoice_oldest_queued_job_age_seconds",
                            "Seconds the oldest due job has been waiting for a worker (0: none)",
                            value=snap.oldest_queued_age)

    validations = CounterMetricFamily("einvoice_validations", "Stored validation reports by verdict",
                                      labels=["valid"])
    for valid in (True, False):
        validations.add_metric(["true" if valid else "false"], snap.validations.get(valid, 0))
    yield validations
    seconds = snap.validation_seconds
    histogram = GaugeHistogramMetricFamily(
        "einvoice_validation_duration_seconds",
        f"Validation wall time of the newest reports (at most {WINDOW_REPORTS}, at most {WINDOW_SECONDS} s old)")
    buckets = [(repr(bound), sum(1 for s in seconds if s <= bound)) for bound in BUCKETS]
    histogram.add_metric([], buckets + [("+Inf", len(seconds))], gsum_value=sum(seconds))
    yield histogram
    quantiles = GaugeMetricFamily("einvoice_validation_duration_quantile_seconds",
                                  "Quantiles of the validation wall time of the newest reports (NaN: none)",
                                  labels=["quantile"])
    for q in QUANTILES:
        quantiles.add_metric([str(q)], quantile(seconds, q))
    yield quantiles

    risk_eur = GaugeMetricFamily(
        "einvoice_skonto_at_risk_eur",
        f"Skonto (EUR) of open invoices whose best deadline is within {snap.soon_working_days} working days "
        "(soon) or already passed (passed)", labels=["window"])
    risk_count = GaugeMetricFamily("einvoice_skonto_at_risk_invoices", "Open invoices with Skonto at risk",
                                   labels=["window"])
    for window in ("soon", "passed"):
        count, amount = snap.at_risk.get(window, (0, ZERO))
        risk_eur.add_metric([window], float(amount))
        risk_count.add_metric([window], count)
    yield risk_eur
    yield risk_count
    skonto_eur = GaugeMetricFamily("einvoice_skonto_eur", "Skonto offered, open, captured and lost (EUR)",
                                   labels=["status"])
    skonto_count = GaugeMetricFamily("einvoice_skonto_invoices", "Invoices with Skonto offered, open, captured, lost",
                                     labels=["status"])
    for status in ("offered", "open", "captured", "lost"):
        count, amount = snap.skonto.get(status, (0, ZERO))
        skonto_eur.add_metric([status], float(amount))
        skonto_count.add_metric([status], count)
    yield skonto_eur
    yield skonto_count

    approval = GaugeMetricFamily("einvoice_approval_open", "Open approval steps per unit (case open or parked)",
                                 labels=["unit", "status"])
    for (unit, status), count in sorted(snap.approval_open.items()):
        approval.add_metric([unit, status], count)
    yield approval
    for name, doc, values, kinds in (
            ("einvoice_mail_notices", "Supplier notices by mail per kind and state", snap.notices,
             [kind.value for kind in NoticeKind]),
            ("einvoice_reminders", "Reminder, escalation and digest mails per kind and state", snap.reminders,
             REMINDER_KINDS)):
        family = GaugeMetricFamily(name, doc, labels=["kind", "status"])
        for kind in sorted({kind for kind, _ in values} | set(kinds)):
            for state in NOTICE_STATES:
                family.add_metric([kind, state], values.get((kind, state), 0))
        yield family
    scheduler = GaugeMetricFamily("einvoice_scheduler_last_run_timestamp_seconds",
                                  "Last run of each deadline scheduler task (Unix time)", labels=["task"])
    for task, at in sorted(snap.scheduler_last_run.items()):
        scheduler.add_metric([task], at)
    yield scheduler


class DatabaseCollector:
    """A prometheus_client collector that reads the database on every scrape."""

    def __init__(self, db: Database, *, settings: Settings | None = None, clock: Clock = SYSTEM_CLOCK):
        self.db, self.settings, self.clock = db, settings or db.settings, clock

    def describe(self) -> Iterable[Metric]:
        return []  # nothing at registration: the database is read at scrape time only

    def collect(self) -> Iterable[Metric]:
        started = time.perf_counter()
        try:
            snap = read_snapshot(self.db, settings=self.settings, clock=self.clock)
        except Exception:
            log.exception("metrics: reading the database failed")
            snap = None
        elapsed = time.perf_counter() - started
        if snap is not None:
            yield from families(snap)
        yield GaugeMetricFamily("einvoice_database_up", "1 when the metric queries succeeded",
                                value=1 if snap is not None else 0)
        yield GaugeMetricFamily("einvoice_metrics_collect_seconds", "Time the metric queries took",
                                value=elapsed)


def make_registry(db: Database, *, settings: Settings | None = None, clock: Clock = SYSTEM_CLOCK) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db, settings=settings, clock=clock))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition (format 0.0.4)."""
    return generate_latest(registry)
