"""The database model of master data: units, cost centres, accounts, suppliers, orders, contracts, users.

Created by the Alembic revision ``0003_routing``; same ``Base`` as `einvoice.store.models` (which
imports this module so that the metadata is complete). Maintained through
`einvoice.routing.masterdata` (CSV import/export, API); matching (`einvoice.routing.matching`)
and the workflow (`einvoice.routing.workflow`) read it.

- `OrgUnit`: a Fachbereich/Amt (``code`` e.g. ``FB20``), its lead (escalations go there) and the
  Bundesland whose public holidays count for its working days.
- `LeitwegId`: a Leitweg-ID (BT-10) that belongs to a unit, optionally to one cost centre; a
  ``central`` one (the Rechnungseingangsstelle's address for all invoices) names no department.
- `Account`: a Sachkonto (cost type). `CostCentre`: a Kostenstelle of a unit with its default
  account and budget product (Produkt).
- `Supplier`: a creditor (creditor number, VAT id, IBAN/BIC as confirmed in master data),
  optionally with a default cost centre.
- `PurchaseOrder` / `Contract`: imported references (BT-13 / BT-12) with their booking target.
- `User`: a person with roles (``approver``, ``rechnungseingang``, ``kaemmerei``, ``admin``,
  ``kasse``), the units they act for (`UserUnit`), an Anordnung amount limit, and the suppliers
  they are linked to (`UserSupplierLink`: may not approve those invoices if so configured).
- `Substitution`: who stands in for whom, from when to when (dates inclusive), optionally for
  one unit only.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base
from .types import Money, utcnow

ROLES = ("approver", "rechnungseingang", "kaemmerei", "admin", "kasse")


class OrgUnit(Base):
    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    lead_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    bundesland: Mapped[str | None] = mapped_column(String(2))  # e.g. "BY", "NW"; None: the installation's
    email: Mapped[str | None] = mapped_column(String(320))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"<OrgUnit {self.code} {self.name!r}>"


class Account(Base):
    """A Sachkonto (cost type), e.g. 5431 "Geschäftsaufwendungen"."""

    __tablename__ = "accounts"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CostCentre(Base):
    __tablename__ = "cost_centres"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    default_account: Mapped[str | None] = mapped_column(ForeignKey("accounts.code"))
    budget_product: Mapped[str | None] = mapped_column(String(64))  # Produkt of the budget
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"<CostCentre {self.code} {self.name!r}>"


class LeitwegId(Base):
    __tablename__ = "leitweg_ids"

    leitweg_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # stored upper case
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    cost_centre_id: Mapped[int | None] = mapped_column(ForeignKey("cost_centres.id"))
    description: Mapped[str | None] = mapped_column(String(256))
    # the municipality's central address (Rechnungseingangsstelle): says nothing about the department,
    # so matching does not take the unit from it
    central: Mapped[bool] = mapped_column(Boolean, default=False)


class Supplier(Base):
    __tablename__ = "suppliers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    creditor_number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(512), index=True)
    vat_id: Mapped[str | None] = mapped_column(String(64), index=True)  # normalised: upper case, no spaces
    tax_number: Mapped[str | None] = mapped_column(String(64))
    iban: Mapped[str | None] = mapped_column(String(34), index=True)  # normalised: upper case, no spaces
    bic: Mapped[str | None] = mapped_column(String(11))
    email: Mapped[str | None] = mapped_column(String(320))
    default_cost_centre_id: Mapped[int | None] = mapped_column(ForeignKey("cost_centres.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"<Supplier {self.creditor_number} {self.name!r}>"


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(128), unique=True)
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    cost_centre_id: Mapped[int] = mapped_column(ForeignKey("cost_centres.id"))
    account: Mapped[str | None] = mapped_column(ForeignKey("accounts.code"))
    amount: Mapped[Decimal | None] = mapped_column(Money())  # ordered gross amount, if known
    ordered_on: Mapped[date | None] = mapped_column(Date)
    open: Mapped[bool] = mapped_column(Boolean, default=True)


class Contract(Base):
    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(128), unique=True)
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    cost_centre_id: Mapped[int] = mapped_column(ForeignKey("cost_centres.id"))
    account: Mapped[str | None] = mapped_column(ForeignKey("accounts.code"))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    display_name: Mapped[str] = mapped_column(String(256))
    email: Mapped[str | None] = mapped_column(String(320))
    roles: Mapped[list[Any]] = mapped_column(default=list)  # subset of ROLES
    approval_limit: Mapped[Decimal | None] = mapped_column(Money())  # Anordnung limit (gross); None: none
    password_hash: Mapped[str | None] = mapped_column(String(256))  # set by the web UI (argon2)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # consecutive; reset by a good login
    locked_until: Mapped[datetime | None]  # lockout after repeated failures
    last_login_at: Mapped[datetime | None]
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # +1 at logout: all sessions end
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def has_role(self, role: str) -> bool:
        return role in (self.roles or [])

    def __repr__(self) -> str:
        return f"<User {self.username} {self.roles}>"


class UserUnit(Base):
    """The units a user acts for (sees and works on their invoices)."""

    __tablename__ = "user_units"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)


class UserSupplierLink(Base):
    """A user linked to a supplier (relative, former employer, side job): a conflict of interest."""

    __tablename__ = "user_supplier_links"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), primary_key=True)
    note: Mapped[str | None] = mapped_column(Text)


class Substitution(Base):
    __tablename__ = "substitutions"
    __table_args__ = (CheckConstraint("starts_on <= ends_on", name="period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    absent_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    substitute_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))  # None: all units of the absent user
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)  # inclusive
    created_by: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
