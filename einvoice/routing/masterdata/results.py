"""What an import returns: counts per kind and the errors with line, column, value and message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RowError:
    line: int | None  # None: not from a file (API)
    column: str | None
    value: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "value": self.value, "message": self.message}

    def __str__(self) -> str:
        where = [f"Zeile {self.line}"] if self.line is not None else []
        if self.column:
            where.append(f"Spalte {self.column}")
        value = f" ({self.value!r})" if self.value and repr(self.value) not in self.message else ""
        return f"{', '.join(where) + ': ' if where else ''}{self.message}{value}"


@dataclass
class ImportResult:
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    written: bool = False
    source: str | None = None  # file name

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "written": self.written, "errors": [e.to_dict() for e in self.errors]}


@dataclass
class FolderImportResult:
    results: list[ImportResult]
    ignored: list[str]  # .csv files whose name is no kind

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "ignored": self.ignored, "results": [r.to_dict() for r in self.results]}
