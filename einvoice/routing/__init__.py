"""Routing: what happens to a parsed invoice until it is approved.

- `masterdata`: units, cost centres, accounts, suppliers, orders, contracts, users, substitutes
  (CSV import/export with line-numbered errors).
- `matching`: the ordered rule set that assigns unit, cost centre and account (with an
  explanation and a confidence), the Rechnungseingangsstelle's manual queue, re-runs.
- `workflow`: approval chains (sachlich richtig, rechnerisch richtig, Anordnung), four-eyes,
  substitutes, return/reject/park, partial acceptance, frozen payment data, IBAN alerts.
- `deadlines`: Skonto deadlines and amounts, net and legal due dates, working days, inbox
  priority, reminders/escalations/digests by a restart-safe scheduler, Skonto metrics.
- `clock`: the one source of "now" and "today" (tests and simulations pass a controllable clock).
"""
