"""The project's own synthetic sample invoices (see `einvoice.samples.generate`)."""
