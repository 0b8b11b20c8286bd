"""Skonto and deadlines: Skonto terms and amounts, net and legal due dates, working days per Bundesland,
inbox priority (money at risk), reminders/escalations/digests by a restart-safe scheduler, Skonto metrics.

- `calendar`: working days per Land (``holidays``), ``EINVOICE_BUNDESLAND`` as default.
- `compute`: pure `DeadlineFacts` from the parsed model and the receipt date.
- `service`: `compute_for_item`, `settle` (after the Anordnung), `mark_lost_deadlines`, `refresh`.
- `reminders`: what mails are due today, each sent at most once; `messages` holds their German texts.
- `scheduler`: `run_due` / `run_forever` with the next run stored in the database.
- `metrics`: `skonto_metrics` per unit and month.

Names are loaded on first use, so importing the package costs nothing.
"""

from ...lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "DeadlineFacts": ".compute", "compute": ".compute",
    "compute_for_item": ".service", "settle": ".service", "mark_lost_deadlines": ".service", "refresh": ".service",
    "send_due": ".reminders", "due_notices": ".reminders",
    "run_due": ".scheduler", "run_forever": ".scheduler",
    "skonto_metrics": ".metrics",
    "is_working_day": ".calendar", "add_working_days": ".calendar", "working_days_between": ".calendar",
    "last_working_day_on_or_before": ".calendar",
})
