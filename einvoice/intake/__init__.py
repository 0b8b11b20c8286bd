"""Intake: receive raw inputs from every channel, keep them, and process them (validate, parse, dedupe).

`receive.receive` / `receive.receive_message` are the service functions the channels call;
`states.transition` is the only way an item's state changes; `process` is the job that takes an
item to ``parsed``; `mail/` receives by IMAP and SMTP. Import from the modules (nothing is imported
here, so the command line does not load the database layer for `einvoice validate`).
"""
