"""Master data: organisation units, accounts, cost centres, Leitweg-IDs, suppliers, orders,
contracts, users, substitutions and user–supplier links, maintained as CSV and through the API.

- `kinds`: one declarative description per kind (`KINDS`, in import order): columns, natural key,
  parse/check/format, mapping to the tables of `einvoice.store.masterdata_models`.
- `importer`: `import_csv` / `import_folder` (all rows checked first, errors with line numbers,
  nothing written on any error, upsert by natural key).
- `exporter`: `export_csv` / `export_folder` (re-importing an export changes nothing).
- `normalize`: amounts, dates, booleans, IBAN, BIC, VAT id, Leitweg-ID; `csv_io`: reading
  (``;`` or ``,``, UTF-8 with or without BOM) and writing (``;``).
- `service`: one-row helpers for the API (`einvoice.web.api_masterdata`); `cli`: ``einvoice
  masterdata import|export``.

Example data of a small municipality ("Stadt Musterstadt", matching the project's sample
invoices): ``rules/routing/example-masterdata/``.
"""

from .exporter import export_csv, export_folder
from .importer import FolderImportResult, ImportResult, RowError, import_csv, import_folder
from .kinds import KIND_MAP, KINDS, Column, Kind, get_kind

__all__ = ["KINDS", "KIND_MAP", "Kind", "Column", "get_kind", "import_csv", "import_folder", "ImportResult",
           "FolderImportResult", "RowError", "export_csv", "export_folder"]
