"""Verfahrensdokumentation: ``einvoice docs procedure`` writes the GoBD procedure documentation of this
installation from its actual configuration, as Markdown and HTML.

- `collect`: settings, channels, rule packs, matching rules, workflows, roles (counts, no names),
  substitutions, export mappings, archive target and retention, database kind (no secrets).
- `content`: the German text in the usual outline (Allgemeine Beschreibung, Anwenderdokumentation,
  Technische Systemdokumentation, Betriebsdokumentation, Internes Kontrollsystem).
- `render`: Markdown and a self-contained HTML page (Jinja2, autoescaped); `generate`/`write` here.
"""

from __future__ import annotations

from pathlib import Path

from ...routing.clock import SYSTEM_CLOCK, Clock, today
from ...store.db import Database
from .collect import collect
from .content import Document, build_document
from .render import to_html, to_markdown

FORMATS = ("md", "html")


def generate(db: Database, *, clock: Clock = SYSTEM_CLOCK) -> dict[str, str]:
    """{"md": Markdown, "html": HTML} of the installation behind ``db`` as it is configured now."""
    doc = build_document(collect(db, clock=clock))
    return {"md": to_markdown(doc), "html": to_html(doc)}


def write(db: Database, out_dir: Path | str, formats=FORMATS, *, clock: Clock = SYSTEM_CLOCK) -> list[Path]:
    """Write ``verfahrensdokumentation-<date>.md/.html`` into ``out_dir``; returns the paths."""
    texts = generate(db, clock=clock)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = folder / f"verfahrensdokumentation-{today(clock).isoformat()}.{fmt}"
        path.write_text(texts[fmt], encoding="utf-8")
        paths.append(path)
    return paths


__all__ = ["FORMATS", "Document", "build_document", "collect", "generate", "to_html", "to_markdown", "write"]
