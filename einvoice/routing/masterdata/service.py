"""Small CRUD helpers for the API and the admin UI: list, read, create and update one row of a kind.

Rows are addressed by natural key; a composite key (substitutions, supplier links) is written
with ``|`` between its parts in column order, an empty part for an empty column (e.g.
``b.krause|e.schneider||2026-11-02`` for a substitution valid in all units). Values come as JSON
(strings, numbers as `Decimal`, dates, booleans, lists) and go through exactly the checks of the
CSV import (`KindImport`), so the API accepts what an import would accept. There is no delete:
kinds with ``active`` are deactivated by an update ``{"active": false}``. The caller owns the
transaction.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .exporter import ordered, row_values
from .importer import KindImport, RowError
from .kinds import KINDS, Kind, get_kind
from .normalize import LIST_SEPARATOR, format_bool
from .refs import Refs


class NotFound(LookupError):
    pass


class AlreadyExists(ValueError):
    pass


class InvalidRow(ValueError):
    """The values do not pass the import checks; ``errors`` are `RowError` (line None)."""

    def __init__(self, errors: list[RowError]):
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


def describe_kinds() -> list[dict[str, Any]]:
    """Kinds with their columns, in import order (for the API and the admin UI)."""
    return [{"kind": kind.name, "title": kind.title, "key": list(kind.key),
             "columns": [{"name": c.name, "type": c.type.name, "required": c.required, "ref": c.ref, "many": c.many}
                         for c in kind.columns]} for kind in KINDS]


def list_rows(session: Session, kind: str, *, page: int = 1, per_page: int = 50) -> tuple[int, list[dict[str, Any]]]:
    spec = get_kind(kind)
    total = session.scalar(select(func.count()).select_from(spec.model))
    refs = Refs(session)
    found = session.scalars(ordered(spec).offset((page - 1) * per_page).limit(per_page)).all()
    return total, [row_values(spec, row, refs) for row in found]


def key_text(kind: str | Kind, values: dict[str, Any]) -> str:
    spec = get_kind(kind) if isinstance(kind, str) else kind
    return LIST_SEPARATOR.join(to_cell(values.get(name)) for name in spec.key)


def find(session: Session, kind: str | Kind, key: str, refs: Refs | None = None) -> Any | None:
    """The database row of ``kind`` with the natural key ``key`` (None if there is none)."""
    spec = get_kind(kind) if isinstance(kind, str) else kind
    refs = refs or Refs(session)
    parts = key.split(LIST_SEPARATOR) if len(spec.key) > 1 else [key]
    if len(parts) != len(spec.key):
        return None
    query = select(spec.model)
    for name, part in zip(spec.key, parts):
        column = spec.column_map[name]
        attribute = getattr(spec.model, column.attr)
        if not part.strip():
            query = query.where(attribute.is_(None))
            continue
        try:
            value = column.type.parse(part.strip())
        except ValueError:
            return None
        if column.ref:
            target = refs.find(column.ref, value)
            if target is None:
                return None
            value = refs.fk_value(column.ref, target)
        query = query.where(attribute == value)
    return session.scalars(query).one_or_none()


def get_row(session: Session, kind: str, key: str) -> dict[str, Any]:
    spec, refs = get_kind(kind), Refs(session)
    row = find(session, spec, key, refs)
    if row is None:
        raise NotFound(f"{spec.title}: {key!r} nicht gefunden")
    return row_values(spec, row, refs)


def to_cell(value: Any) -> str:
    """A JSON value as the CSV cell the importer parses."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return format_bool(value)
    if isinstance(value, (Decimal, int)):
        return str(value)
    if isinstance(value, float):
        raise ValueError("amounts must be given as strings or exact decimals, not as floats")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return LIST_SEPARATOR.join(str(item) for item in value)
    return str(value)


def _canonical(spec: Kind, name: str, cell: str) -> str:
    column = spec.column_map[name]
    try:
        return column.type.format(column.type.parse(cell.strip()), False) if cell.strip() else ""
    except ValueError:
        return cell


def _save(session: Session, spec: Kind, cells: dict[str, str], *, actor: str, creating: bool) -> dict[str, Any]:
    work = KindImport(session, spec, actor=actor)
    work.check_header(list(cells), line=None)
    row = work.parse_row(None, cells) if not work.errors else None
    if row is None:
        raise InvalidRow(work.errors)
    if creating and row.key in work.existing():
        raise AlreadyExists(f"{spec.title}: {' / '.join(k for k in row.key if k)} gibt es schon")
    work.write([row])
    return get_row(session, spec.name, LIST_SEPARATOR.join(row.key))


def create_row(session: Session, kind: str, values: dict[str, Any], *, actor: str) -> dict[str, Any]:
    spec = get_kind(kind)
    cells = {name: to_cell(value) for name, value in values.items()}
    return _save(session, spec, cells, actor=actor, creating=True)


def update_row(session: Session, kind: str, key: str, values: dict[str, Any], *, actor: str) -> dict[str, Any]:
    """Change the given columns of one row; key columns cannot change (create a new row instead)."""
    spec, refs = get_kind(kind), Refs(session)
    row = find(session, spec, key, refs)
    if row is None:
        raise NotFound(f"{spec.title}: {key!r} nicht gefunden")
    current = row_values(spec, row, refs)
    cells = {name: to_cell(value) for name, value in current.items()}
    problems = []
    for name, value in values.items():
        cell = to_cell(value)
        if name in spec.key and _canonical(spec, name, cell) != _canonical(spec, name, cells.get(name, "")):
            problems.append(RowError(None, name, cell, "Schlüsselspalten können nicht geändert werden"))
        cells[name] = cell
    if problems:
        raise InvalidRow(problems)
    return _save(session, spec, cells, actor=actor, creating=False)
