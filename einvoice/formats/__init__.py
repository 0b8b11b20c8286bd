"""The EN 16931 model of a received invoice and the readers that fill it.

Stage "formats" of the pipeline (intake → store → validation → formats → routing → handoff).
``read_invoice(data, file_name)`` turns XRechnung UBL/CII, ZUGFeRD/Factur-X PDFs and (best effort)
ZUGFeRD 1.0 into an `Invoice` (model.py); skonto.py structures payment terms, leitweg.py checks
BT-10, coverage.py lists what the model did not read, export.py renders `einvoice show`.
This package may import from `einvoice.validation`, never the other way round.
"""

from .model import Amount, Identifier, Invoice, Quantity
from .read import FormatError, ReadResult, read_invoice

__all__ = ["Amount", "FormatError", "Identifier", "Invoice", "Quantity", "ReadResult", "read_invoice"]
