"""``einvoice demo``: the newcomer's one command (issue #10).

On a fresh machine, after ``pip install -e .`` in a checkout, ``einvoice demo`` builds a complete
installation in a folder of its own (``./einvoice-demo`` unless ``--data-dir``) and opens it:

- `setup`: the folder (fresh unless ``--keep``), a SQLite database migrated to the newest schema,
  the example organisation "Stadt Musterstadt" (``rules/routing/example-masterdata`` of the
  checkout: units, cost centres, suppliers, orders, users), the matching rules and workflows of
  ``rules/routing``, and a random password for each demo user (`DEMO_USERS`), printed once.
- `invoices`: about a dozen invoices made with `einvoice.samples.generate` — four suppliers, orders
  and Leitweg-IDs of the example data, UBL, CII, a credit note, a Factur-X PDF, one whose order and
  Leitweg-ID point to different cost centres (→ manual queue), one with wrong totals (→ rejected);
  issue dates in the last two weeks, so the Skonto deadlines are live.
- `ingest`: through the real intake: each API invoice is POSTed to ``/api/v1/invoices`` of the app,
  the mail invoices are sent with smtplib to einvoice's own SMTP receiver (`einvoice.intake.mail.smtpd`)
  on a free loopback port; then the worker runs until no job is due (validated, parsed, matched, in
  approval). Notices to suppliers (receipts of the mail invoices …) go to a local SMTP sink that
  writes them as ``.eml`` files into ``<data dir>/outbox/``.
- `cli`: ``einvoice demo [--data-dir DIR] [--port 8000] [--no-serve] [--keep]`` prints a summary
  (items per state, the manual queue, open tasks per demo user) and the API token, then serves the
  UI with an in-process worker on ``127.0.0.1:PORT`` (``--no-serve``: stop after the summary).

Everything is for trying out on one's own machine: the server listens on loopback only.
"""
