"""Import master data from CSV: validate every row first, then upsert by natural key.

`import_csv(session, kind, text, *, actor)` checks the header (unknown columns, missing required
ones), then every row (values, references by natural key, cross-column rules, keys twice in the
file) and collects ALL errors as `RowError` (line as in the file, header = line 1; column; the
cell; a German message). Only a file without errors is written: new keys are created, changed rows
updated (only the columns in the file), equal rows left alone, so re-importing an export changes
nothing. Rows missing from the file are kept (deactivate with ``active=nein``).
Data errors never raise; the caller owns the transaction.

`import_folder(session, folder, *, actor)` imports every ``<kind>.csv`` present, in `KINDS` order,
inside a savepoint: all files or nothing. The lead of a unit may name a user of the same folder's
``users.csv``: it is set after the users are imported.

There is no audit event (AuditEvent belongs to an intake item): the summary is logged
(``einvoice.masterdata``) and returned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .csv_io import CsvFormatError, read_csv
from .kinds import KIND_MAP, KINDS, Column, Kind, get_kind
from .refs import Refs
from .results import FolderImportResult, ImportResult, RowError

log = logging.getLogger("einvoice.masterdata")

__all__ = ["import_csv", "import_folder", "KindImport", "ImportResult", "FolderImportResult", "RowError"]


@dataclass
class ParsedRow:
    line: int | None
    cells: dict[str, str]  # column → cell as given (stripped)
    values: dict[str, Any] = field(default_factory=dict)  # column → typed value
    targets: dict[str, Any] = field(default_factory=dict)  # ref column → row(s) it names
    canonical: dict[str, str] = field(default_factory=dict)  # column → export text of the value
    deferred: dict[str, str] = field(default_factory=dict)  # ref column → key resolved later
    key: tuple[str, ...] = ()


class KindImport:
    """Validation and writing of rows of one kind (also used by the API for single rows)."""

    def __init__(self, session: Session, kind: Kind, *, actor: str, refs: Refs | None = None,
                 defer: frozenset[str] = frozenset()):
        self.session, self.kind, self.actor = session, kind, actor
        self.refs = refs or Refs(session)
        self.defer = defer  # ref kinds whose unknown keys are resolved after a later import
        self.errors: list[RowError] = []
        self.columns: list[Column] = []
        self.pending: list[tuple[Any, Column, str, int | None]] = []  # (row, column, key, line)

    def error(self, line, column, value, message) -> None:
        self.errors.append(RowError(line, column, value or None, message))

    def check_header(self, header: list[str], line: int = 1) -> bool:
        names = [name.strip().lower() for name in header]
        allowed = self.kind.column_map
        seen: set[str] = set()
        for raw, name in zip(header, names):
            if name not in allowed:
                self.error(line, raw, raw, f"unbekannte Spalte {raw!r}; erlaubt: {', '.join(allowed)}")
            elif name in seen:
                self.error(line, raw, raw, f"Spalte {name!r} kommt zweimal vor")
            seen.add(name)
        missing = [column.name for column in self.kind.columns if column.must_be_in_header and column.name not in seen]
        if missing:
            self.error(line, None, None, f"Pflichtspalte(n) fehlen: {', '.join(missing)}")
        self.columns = [allowed[name] for name in names if name in allowed]
        return not self.errors

    def parse_rows(self, header: list[str], rows: list[tuple[int | None, list[str]]]) -> list[ParsedRow]:
        names = [name.strip().lower() for name in header]
        parsed: list[ParsedRow] = []
        first_line: dict[tuple[str, ...], int | None] = {}
        for line, cells in rows:
            if len(cells) != len(names):
                self.error(line, None, None, f"{len(cells)} Felder, die Kopfzeile hat {len(names)} "
                                             "(Trennzeichen oder Anführungszeichen prüfen)")
                continue
            row = self.parse_row(line, dict(zip(names, (cell.strip() for cell in cells))))
            if row is None:
                continue
            if row.key in first_line:
                where = f"Zeile {first_line[row.key]}" if first_line[row.key] is not None else "dieser Eingabe"
                self.error(line, self.kind.key[0], row.cells.get(self.kind.key[0]),
                           f"Schlüssel {' / '.join(k for k in row.key if k)} doppelt: schon in {where}")
                continue
            first_line[row.key] = line
            parsed.append(row)
        return parsed

    def parse_row(self, line: int | None, cells: dict[str, str]) -> ParsedRow | None:
        before = len(self.errors)
        row = ParsedRow(line, cells)
        for column in self.columns:
            cell = cells.get(column.name, "")
            if not cell:
                if column.required:
                    self.error(line, column.name, None, "Pflichtfeld ist leer")
                value = list(column.default) if isinstance(column.default, list) else column.default
            else:
                try:
                    value = column.type.parse(cell)
                except ValueError as exc:
                    self.error(line, column.name, cell, str(exc))
                    continue
            row.values[column.name] = value
            if column.ref and value:
                self._resolve(row, column, value)
        if len(self.errors) == before and self.kind.check:
            for name, message in self.kind.check(row.values, row.targets, self.refs):
                self.error(line, name, cells.get(name), message)
        if len(self.errors) > before:
            return None
        row.canonical = {c.name: c.type.format(row.values.get(c.name), False) for c in self.columns}
        row.key = tuple(row.canonical[name] for name in self.kind.key)
        return row

    def _resolve(self, row: ParsedRow, column: Column, value: Any) -> None:
        found = []
        for key in (value if column.many else [value]):
            target = self.refs.find(column.ref, key)
            if target is None and column.ref in self.defer and not column.many:
                row.deferred[column.name] = key
            elif target is None:
                hint = " (zuerst importieren oder beide Dateien zusammen als Ordner)" if column.ref in ("users",) \
                    and self.kind.name == "units" else ""
                self.error(row.line, column.name, key, self.refs.unknown(column.ref, key) + hint)
            found.append(target)
        row.targets[column.name] = found if column.many else found[0]

    def existing(self) -> dict[tuple[str, ...], Any]:
        rows = self.session.scalars(select(self.kind.model)).all()
        keys = [self.kind.column_map[name] for name in self.kind.key]
        return {tuple(c.type.format(self.kind.value_of(row, c, self.refs), False) for c in keys): row for row in rows}

    def canonical_of(self, row: Any) -> dict[str, str]:
        return {c.name: c.type.format(self.kind.value_of(row, c, self.refs), False) for c in self.columns}

    def write(self, rows: list[ParsedRow]) -> tuple[int, int, int]:
        """Upsert ``rows``; returns (created, updated, unchanged)."""
        created = updated = unchanged = 0
        current = self.existing()
        many: list[tuple[Any, Column, list[Any]]] = []
        for row in rows:
            target = current.get(row.key)
            if target is None:
                target = self.kind.model()
                changed = self.columns
                if self.kind.on_create:
                    self.kind.on_create(target, self.actor)
                self.session.add(target)
                created += 1
            else:
                old = self.canonical_of(target)
                changed = [c for c in self.columns if old[c.name] != row.canonical[c.name]]
                if not changed:
                    unchanged += 1
                    continue
                updated += 1
            for column in changed:
                if column.many:
                    many.append((target, column, row.targets.get(column.name) or []))
                elif column.name in row.deferred:
                    self.pending.append((target, column, row.deferred[column.name], row.line))
                elif column.ref:
                    ref = row.targets.get(column.name)
                    setattr(target, column.attr, None if ref is None else self.refs.fk_value(column.ref, ref))
                else:
                    setattr(target, column.attr, row.values.get(column.name))
        self.session.flush()
        for target, column, refs in many:
            self.kind.set_many(self.session, target, column, refs)
        self.session.flush()
        self.refs.forget(self.kind.name)
        return created, updated, unchanged

    def resolve_pending(self) -> None:
        """Set the deferred references (a unit's lead named in the same folder's users.csv)."""
        for kind in {column.ref for _, column, _, _ in self.pending}:
            self.refs.forget(kind)
        for target, column, key, line in self.pending:
            ref = self.refs.find(column.ref, key)
            if ref is None:
                self.error(line, column.name, key, self.refs.unknown(column.ref, key))
            else:
                setattr(target, column.attr, self.refs.fk_value(column.ref, ref))
        self.pending.clear()
        self.session.flush()


def _run(session: Session, kind: Kind, data: bytes | str, *, actor: str, source: str | None,
         defer: frozenset[str] = frozenset(), write_anyway: bool = False) -> tuple[ImportResult, KindImport]:
    result = ImportResult(kind.name, source=source)
    work = KindImport(session, kind, actor=actor, defer=defer)
    try:
        table = read_csv(data)
    except CsvFormatError as exc:
        result.errors.append(RowError(exc.line, None, None, exc.message))
        return result, work
    if work.check_header(table.header, table.header_line):
        rows = work.parse_rows(table.header, table.rows)
        if not work.errors or write_anyway:
            result.created, result.updated, result.unchanged = work.write(rows)
            result.written = not work.errors
    result.errors = work.errors
    return result, work


def _log(result: ImportResult, actor: str) -> None:
    if result.ok:
        log.info("master data import %s by %s: %d created, %d updated, %d unchanged", result.source or result.kind,
                 actor, result.created, result.updated, result.unchanged)
    else:
        log.info("master data import %s by %s refused: %d errors, nothing written", result.source or result.kind,
                    actor, len(result.errors))


def import_csv(session: Session, kind: str, text: bytes | str, *, actor: str) -> ImportResult:
    """Validate all rows of one CSV file of ``kind``; write them only if none has an error."""
    result, _ = _run(session, get_kind(kind), text, actor=actor, source=f"{kind}.csv")
    _log(result, actor)
    return result


def import_folder(session: Session, folder: str | Path, *, actor: str) -> FolderImportResult:
    """Import every ``<kind>.csv`` of ``folder`` in `KINDS` order: all files or nothing."""
    folder = Path(folder)
    files = {path.stem: path for path in sorted(folder.glob("*.csv"))}
    ignored = [path.name for name, path in files.items() if name not in KIND_MAP]
    results: list[ImportResult] = []
    deferring: list[tuple[ImportResult, KindImport]] = []
    savepoint = session.begin_nested()
    try:
        for kind in KINDS:
            if kind.name not in files:
                continue
            defer = frozenset({"users"}) if kind.name == "units" and "users" in files else frozenset()
            result, work = _run(session, kind, files[kind.name].read_bytes(), actor=actor,
                                source=files[kind.name].name, defer=defer, write_anyway=True)
            results.append(result)
            if work.pending:
                deferring.append((result, work))
        for result, work in deferring:
            work.resolve_pending()
            result.errors = work.errors
            result.written = result.written and result.ok
        if all(result.ok for result in results):
            savepoint.commit()
        else:
            savepoint.rollback()
            for result in results:
                result.created = result.updated = result.unchanged = 0
                result.written = False
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    for result in results:
        _log(result, actor)
    for name in ignored:
        log.warning("master data import of %s: %s is no master data kind, ignored", folder, name)
    return FolderImportResult(results, ignored)
