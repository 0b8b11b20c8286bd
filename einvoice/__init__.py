"""einvoice: receive, validate and route electronic invoices for German public administrations."""

__version__ = "0.1.0"
