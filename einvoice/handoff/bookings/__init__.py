"""Booking records (Buchungssätze) for the Kämmerei: approved invoices leave einvoice in export batches.

- `records`: the records of one approved invoice (one per cost-centre split; amounts distributed to
  the cent so they sum exactly; credit notes negative), from what routing decided.
- `fields`: the record fields and their German meaning; `mapping`: column mapping files
  (``rules/export/*.toml``) that shape the CSV for a finance system; `writers`: CSV and JSON files.
- `sources`: what the records of many invoices are built from, read in a few queries; `totals`: the
  control total (Kontrollsumme) and its breakdown per currency, VAT group and document type.
- `batches`: create a batch (approved → exported, file in the blob store, Kontrollsumme), mark it
  booked, cancel it (exported → approved), download its file again; batches are immutable.
- `cli`: ``einvoice export bookings|batches|batch|book|cancel``; the API is `einvoice.web.api_bookings`.
"""

from .batches import (
    batch_dict, batch_file, cancel_batch, content_type, create_batch, get_batch, list_batches, mark_booked,
)
from .errors import BookingError, Conflict, InvalidInput, MappingError, NotFound
from .mapping import Mapping, available_mappings, load_mapping, parse_mapping
from .records import Sources, allocate, build_records
from .sources import load_sources
from .totals import control_totals
from .writers import write_csv, write_json

__all__ = [
    "BookingError", "Conflict", "InvalidInput", "Mapping", "MappingError", "NotFound", "Sources", "allocate",
    "available_mappings", "batch_dict", "batch_file", "build_records", "cancel_batch", "content_type",
    "control_totals", "create_batch", "get_batch", "list_batches", "load_mapping", "load_sources", "mark_booked",
    "parse_mapping", "write_csv", "write_json",
]
