"""The demo installation: its folder, database, example organisation, rules, workflows and passwords.

`prepare_folder` makes the data folder (fresh unless ``keep``; a folder that einvoice did not make
for a demo is never deleted: it has no marker file `MARKER`), `use_folder` points the process's
settings at it (SQLite ``<folder>/einvoice.db``), `example_dir` finds the checkout's ``rules/``,
`build` migrates and imports, `set_demo_passwords` gives each `DEMO_USERS` entry a random password.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

MARKER = ".einvoice-demo"

# (username, what the person does in the demo)
DEMO_USERS: tuple[tuple[str, str], ...] = (
    ("m.mueller", "Sachbearbeitung Tiefbau: sachlich richtig"),
    ("e.schneider", "Sachgebietsleitung Tiefbau: Anordnung bis 25.000 EUR"),
    ("r.schmidt", "Rechnungseingangsstelle: manuelle Zuordnung"),
    ("k.weber", "Kämmerei: Buchungsexport, Zahlungen"),
    ("admin", "IT-Administration"),
)


class DemoError(RuntimeError):
    """A problem the user can fix (message in plain words); the command exits with status 1."""


@dataclass(frozen=True)
class Folder:
    path: Path
    fresh: bool  # False: --keep found an earlier demo there

    @property
    def database(self) -> Path:
        return self.path / "einvoice.db"


def _is_demo(path: Path) -> bool:
    return (path / MARKER).is_file()


def prepare_folder(path: str | Path, *, keep: bool = False) -> Folder:
    path = Path(path).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise DemoError(f"{path} ist eine Datei, kein Ordner")
    existing = path.exists() and any(path.iterdir())
    if existing and not _is_demo(path):
        raise DemoError(f"{path} ist nicht leer und kein Demo-Ordner von einvoice ({MARKER} fehlt): "
                        f"bitte einen anderen Ordner mit --data-dir wählen")
    if existing and keep and (path / "einvoice.db").is_file():
        return Folder(path, fresh=False)
    if existing:
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("Von `einvoice demo` angelegt; wird beim nächsten `einvoice demo` ohne --keep "
                               "gelöscht und neu aufgebaut.\n", encoding="utf-8")
    return Folder(path, fresh=True)


def use_folder(folder: Folder) -> None:
    """Point this process's settings (`einvoice.config.load_settings`) at the demo folder and its SQLite file."""
    os.environ["EINVOICE_CONFIG"] = os.devnull  # a server's /etc/einvoice/einvoice.toml must not reach the demo
    os.environ["EINVOICE_DATA_DIR"] = str(folder.path)
    os.environ["EINVOICE_DATABASE_URL"] = f"sqlite:///{folder.database}"


def example_dir() -> Path:
    """``rules/`` of the checkout (or ``EINVOICE_RULES_DIR``) with the example organisation, or `DemoError`."""
    from ..paths import rules_dir

    rules = rules_dir()
    needed = [rules / "routing" / "example-masterdata" / "users.csv", rules / "routing" / "matching.toml",
              rules / "routing" / "workflows.toml"]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise DemoError(
            "einvoice demo braucht den Ordner rules/ des Repositorys (Beispiel-Stammdaten, Regeln, Workflows), "
            f"gefunden wurde er nicht ({', '.join(missing)} fehlt). einvoice ist offenbar nicht aus einem "
            "Checkout installiert: bitte im Checkout `pip install -e .` ausführen oder EINVOICE_RULES_DIR auf "
            "dessen rules/ setzen.")
    return rules / "routing"


def build(db, routing_dir: Path) -> dict[str, int]:
    """Migrate, import the example organisation, seed matching rules and workflows (one transaction)."""
    from ..routing.masterdata import import_folder
    from ..routing.matching.rules import seed_rules
    from ..routing.workflow.definitions import load_file, replace_workflows
    from ..store.migrate import upgrade

    upgrade(db.url)
    with db.transaction() as session:
        outcome = import_folder(session, routing_dir / "example-masterdata", actor="system:demo")
        if not outcome.ok:
            problems = [f"{r.source}: {e}" for r in outcome.results for e in r.errors]
            raise DemoError("Beispiel-Stammdaten nicht importierbar:\n  " + "\n  ".join(problems))
        rules = seed_rules(session, routing_dir / "matching.toml", actor="system:demo")
        workflows = replace_workflows(session, load_file(routing_dir / "workflows.toml"))
    return {"masterdata_rows": sum(r.created for r in outcome.results), "rules": rules["count"],
            "workflows": workflows["created"] + workflows["updated"]}


def set_demo_passwords(db) -> list[tuple[str, str, str]]:
    """A new random password for every demo user: [(username, password, role text)]."""
    from ..web.ui.passwords import set_password

    result = []
    for username, what in DEMO_USERS:
        password = secrets.token_urlsafe(9)  # 12 characters
        set_password(db, username, password)
        result.append((username, password, what))
    return result
