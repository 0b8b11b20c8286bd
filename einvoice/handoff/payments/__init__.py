"""Payment file: SEPA credit transfers (pain.001.001.09) for chosen approved invoices (issue #9).

- `select`: which invoices may be paid (Anordnung given, frozen IBAN, amount > 0, no credit note, in
  no active run) and why the others are skipped.
- `amounts`: the amount on an execution date: Skonto deducted only up to its deadline (staggered
  terms, partial acceptance).
- `charset`: names and remittance in the EPC character set (ä→ae …).
- `sepa`: the debtor from the settings, IBAN checks, the pain.001.001.09 document (sepaxml),
  XSD validation and control sums.
- `runs`: `create_run`, `cancel_run`, `run_file`, `list_runs` (PaymentRun/PaymentEntry, blob store).
- `errors`: `PaymentError` and its kinds (HTTP status, German message, details).

Names are loaded on first use, so importing the package costs nothing.
"""

from ...lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "create_run": ".runs", "cancel_run": ".runs", "run_file": ".runs", "list_runs": ".runs",
    "run_entries": ".runs", "run_json": ".runs", "RunResult": ".runs",
    "select_payable": ".select", "check_item": ".select", "Candidate": ".select", "Skipped": ".select",
    "amount_on": ".amounts", "applicable_term": ".amounts", "PaymentAmount": ".amounts",
    "build_pain001": ".sepa", "debtor_from": ".sepa", "iban_problem": ".sepa", "xsd_errors": ".sepa",
    "sepa_text": ".charset",
    "PaymentError": ".errors", "DebtorNotConfigured": ".errors", "NothingToPay": ".errors",
    "InvalidRequest": ".errors", "RunNotFound": ".errors", "RunConflict": ".errors",
})
