"""References between master data kinds by natural key (unit code, account code, cost centre code,
creditor number, username), never by database id: `Refs` loads each referenced table once per
import or export and answers key → row and database id → key from memory.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...store.masterdata_models import Account, CostCentre, OrgUnit, Supplier, User, UserUnit

# kind → (model, natural-key attribute, attribute that foreign keys point to, German "unknown …")
TARGETS: dict[str, tuple[type, str, str, str]] = {
    "units": (OrgUnit, "code", "id", "unbekannte Organisationseinheit"),
    "accounts": (Account, "code", "code", "unbekanntes Sachkonto"),
    "cost_centres": (CostCentre, "code", "id", "unbekannte Kostenstelle"),
    "suppliers": (Supplier, "creditor_number", "id", "unbekannter Lieferant (Kreditorennummer)"),
    "users": (User, "username", "id", "unbekannter Benutzer"),
}


class Refs:
    """Lookups of one session; call `forget` after writing rows of a kind that later rows refer to."""

    def __init__(self, session: Session):
        self.session = session
        self._by_key: dict[str, dict[str, Any]] = {}
        self._by_id: dict[str, dict[Any, Any]] = {}
        self._user_units: dict[int, list[str]] | None = None

    def forget(self, kind: str | None = None) -> None:
        for cache in (self._by_key, self._by_id):
            if kind is None:
                cache.clear()
            else:
                cache.pop(kind, None)
        if kind in (None, "users", "units"):
            self._user_units = None

    def _load(self, kind: str) -> None:
        model, key_attr, id_attr, _ = TARGETS[kind]
        rows = self.session.scalars(select(model)).all()
        self._by_key[kind] = {getattr(row, key_attr): row for row in rows}
        self._by_id[kind] = {getattr(row, id_attr): row for row in rows}

    def all(self, kind: str) -> dict[str, Any]:
        if kind not in self._by_key:
            self._load(kind)
        return self._by_key[kind]

    def find(self, kind: str, key: str) -> Any | None:
        return self.all(kind).get(key)

    def fk_value(self, kind: str, row: Any) -> Any:
        """What a foreign key to ``row`` stores (its id; an account's code)."""
        return getattr(row, TARGETS[kind][2])

    def key_of(self, kind: str, fk: Any) -> str | None:
        if fk is None:
            return None
        if kind not in self._by_id:
            self._load(kind)
        row = self._by_id[kind].get(fk)
        return None if row is None else getattr(row, TARGETS[kind][1])

    def unknown(self, kind: str, key: str) -> str:
        """The German message for a key that is not in the table, with a hint for a case slip."""
        similar = [known for known in self.all(kind) if known.lower() == key.lower()]
        hint = f" – gemeint ist wohl {similar[0]!r}" if similar else ""
        return f"{TARGETS[kind][3]} {key!r}{hint}"

    def user_units(self, user_id: int) -> list[str]:
        """The codes of the units a user acts for, sorted."""
        if self._user_units is None:
            units = {row.id: row.code for row in self.all("units").values()}
            found: dict[int, list[str]] = {}
            for link in self.session.scalars(select(UserUnit)).all():
                found.setdefault(link.user_id, []).append(units[link.unit_id])
            self._user_units = {uid: sorted(codes) for uid, codes in found.items()}
        return self._user_units.get(user_id, [])
