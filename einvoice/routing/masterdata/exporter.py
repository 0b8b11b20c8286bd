"""Export master data as CSV (``;``, UTF-8) in the format the importer reads: re-importing an
export changes nothing.

`export_csv(session, kind, *, decimal_comma=False)` gives one kind as text (every column of the
kind, rows in natural-key order, amounts with ``.`` or, with ``decimal_comma``, ``,``; dates ISO;
booleans ``ja``/``nein``; references by natural key). `export_folder(session, folder)` writes
``<kind>.csv`` for every kind, with a byte order mark by default so that Excel shows the umlauts.
`rows` gives the typed rows (for the JSON API).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .csv_io import encode, write_csv
from .kinds import KINDS, Kind, get_kind
from .refs import Refs

log = logging.getLogger("einvoice.masterdata")


def ordered(kind: Kind):
    """The select of a kind's rows in its list order."""
    return select(kind.model).order_by(*(getattr(kind.model, attr) for attr in kind.order_by))


def row_values(kind: Kind, row: Any, refs: Refs) -> dict[str, Any]:
    """Column name → typed value (Decimal, date, bool, list, str or None) of one database row."""
    return {column.name: kind.value_of(row, column, refs) for column in kind.columns}


def rows(session: Session, kind: Kind | str, *, offset: int = 0, limit: int | None = None,
         refs: Refs | None = None) -> list[dict[str, Any]]:
    kind = get_kind(kind) if isinstance(kind, str) else kind
    refs = refs or Refs(session)
    query = ordered(kind).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [row_values(kind, row, refs) for row in session.scalars(query).all()]


def export_csv(session: Session, kind: str, *, decimal_comma: bool = False) -> str:
    spec = get_kind(kind)
    refs = Refs(session)
    lines = []
    for values in rows(session, spec, refs=refs):
        lines.append([column.type.format(values[column.name], decimal_comma) for column in spec.columns])
    key_index = [[column.name for column in spec.columns].index(name) for name in spec.key]
    lines.sort(key=lambda cells: [cells[index] for index in key_index])
    return write_csv([column.name for column in spec.columns], lines)


def export_folder(session: Session, folder: str | Path, *, decimal_comma: bool = False,
                  bom: bool = True) -> list[Path]:
    """Write ``<kind>.csv`` for every kind into ``folder`` (created if missing); returns the files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = folder / f"{kind.name}.csv"
        path.write_bytes(encode(export_csv(session, kind.name, decimal_comma=decimal_comma), bom=bom))
        written.append(path)
    log.info("master data exported to %s (%d files)", folder, len(written))
    return written
