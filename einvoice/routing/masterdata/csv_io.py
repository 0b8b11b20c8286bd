"""Reading and writing master data CSV as German offices have it.

Reading: UTF-8 with or without byte order mark (Excel's "CSV UTF-8" writes one); the delimiter
``;`` (German Excel's default) or ``,`` is taken from the header line (whichever occurs more
often outside quotes; ``;`` on a tie). Quoted cells may contain delimiters and line breaks. Line
numbers are those the user sees in an editor: the header is line 1, a record spanning several
lines has the number of its first line. Blank lines and lines of empty cells only are skipped.

Writing: ``;``, ``\\r\\n`` line ends (as Excel writes), cells quoted only where needed; the caller
encodes as UTF-8 (with a BOM for files meant for Excel: `encode`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

BOM = "\ufeff"
DELIMITERS = (";", ",")


class CsvFormatError(ValueError):
    """The file cannot be read as CSV at all (encoding, no header, broken quoting)."""

    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class CsvTable:
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (line number of the record's first line, cells)
    delimiter: str
    header_line: int = 1


def decode(data: bytes | str) -> str:
    """Text of a UTF-8 file (BOM dropped); not UTF-8 → `CsvFormatError` naming the line."""
    if isinstance(data, str):
        return data[1:] if data.startswith(BOM) else data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise CsvFormatError(line, "Die Datei ist nicht UTF-8-kodiert (Umlaute?). In Excel bitte als "
                                   "„CSV UTF-8 (durch Trennzeichen getrennt)“ speichern.") from None
    return text[1:] if text.startswith(BOM) else text


def sniff_delimiter(header_line: str) -> str:
    counts = {delimiter: 0 for delimiter in DELIMITERS}
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return ";" if counts[";"] >= counts[","] else ","


def read_csv(data: bytes | str) -> CsvTable:
    text = decode(data)
    first = text.lstrip("\r\n").split("\n", 1)[0]
    if not first.strip():
        raise CsvFormatError(1, "Die Datei ist leer: erwartet eine Kopfzeile mit den Spaltennamen")
    delimiter = sniff_delimiter(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    header_line = 1
    rows: list[tuple[int, list[str]]] = []
    try:
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header, header_line = cells, start
            else:
                rows.append((start, cells))
    except csv.Error as exc:
        raise CsvFormatError(reader.line_num or 1, f"CSV nicht lesbar: {exc} (Anführungszeichen prüfen)") from None
    if header is None:  # pragma: no cover - the first-line check above catches it
        raise CsvFormatError(1, "Die Datei ist leer")
    return CsvTable(header, rows, delimiter, header_line)


def write_csv(header: list[str], rows: list[list[str]], *, delimiter: str = ";") -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def encode(text: str, *, bom: bool = True) -> bytes:
    """UTF-8 bytes of a CSV text; with ``bom`` Excel opens it with the umlauts intact."""
    return ((BOM if bom else "") + text).encode("utf-8")
