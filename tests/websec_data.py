"""The small world of the web security tests (tests/test_websec_*.py), built once per test module and backend.

`sec_world` (module scope, over SQLite and PostgreSQL like the ``db`` fixture of tests/pg.py, but one
database per module: the security tests only read it, and whatever they try to change must stay as it
was): the example organisation of ``rules/routing`` (`einvoice.demo.setup.build`: units, cost centres,
suppliers, users, matching rules, workflows), plus one user per role in unit A (``66`` Tiefbau) and the
same roles in unit B (``20`` Kämmerei): ``approver-a`` … ``admin-b`` (`ROLE_USERS`), all with the
password `PASSWORD`. Invoices (real UBL files, so the readable view renders):

- ``items["A"]`` / ``items["B"]``: in approval in unit A / B (first step sachlich open, deadlines computed);
- ``items["queue"]``: parsed, no assignment (the Rechnungseingangsstelle's manual queue), came by mail;
- ``items["approved"]``: approved through the workflow, in payment run ``runs["created"]`` (after the
  cancelled ``runs["cancelled"]``) and exported in booking batch ``batches["created"]`` (after the
  cancelled ``batches["cancelled"]``);
- ``items["matched-A"]`` … ``items["rejected-B"]``: one item per state of `STATES` and unit.

`SecWorld.request(method, path, user=…)` sends one request with that user's session cookie (`_log_in`), `SecWorld.client(user)` gives a TestClient with it; `SecWorld.snapshot()` is
every row of every table, to show that a refused request changed nothing. Use in a test module: ``pytest_plugins = ["pg", "websec_data"]``.
"""

from __future__ import annotations

import itertools
import os
import shutil
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

PASSWORD = "websec-passwort-2026"
TOKEN = "websec-api-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
UNITS = {"A": "66", "B": "20"}
ROLES = ("approver", "kasse", "kaemmerei", "rechnungseingang", "admin")
ROLE_USERS = {f"{role}-{side.lower()}": (role, side) for side in UNITS for role in ROLES}
STATES = ("matched", "in_approval", "approved", "rejected")
EML = b"From: rechnung@musterbau.example\r\nTo: rechnung@musterstadt.example\r\nSubject: Rechnung\r\n\r\nAnbei.\r\n"
DEBTOR = {"debtor_name": "Stadt Musterstadt", "debtor_iban": "DE02120300000000202051", "debtor_bic": "BYLADEM1001"}
_numbers = itertools.count(1)
_databases = itertools.count(1)


@dataclass
class SecWorld:
    db: object
    app: object
    users: dict[str, int] = field(default_factory=dict)  # username -> id
    items: dict[str, int] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)  # username -> session cookie value
    csrf: dict[str, str] = field(default_factory=dict)  # username -> CSRF token of that session
    status_token: str = ""  # the status link token of items["A"]
    cache: dict = field(default_factory=dict)  # for the tests' own use

    def client(self, user: str | None = None, **kwargs) -> TestClient:
        """A new client (no redirects followed); with ``user``: that user's session cookie."""
        from einvoice.web.ui.session import COOKIE

        client = TestClient(self.app, follow_redirects=False, **kwargs)
        if user is not None:
            client.cookies.set(COOKIE, self.cookies[user], domain="testserver.local")  # where httpx keeps its own
        return client

    def request(self, method: str, path: str, *, user: str | None = None, **kwargs):
        """One request on the module's running client (fast: one event loop for all), as ``user`` (a session
        cookie) or without any cookie; nothing the response sets is kept."""
        from einvoice.web.ui.session import COOKIE

        if "http" not in self.cache:
            self.cache["http"] = TestClient(self.app, follow_redirects=False).__enter__()
        http = self.cache["http"]
        http.cookies.clear()
        headers = dict(kwargs.pop("headers", None) or {})
        if user is not None:
            headers["Cookie"] = f"{COOKIE}={self.cookies[user]}"
        try:
            return http.request(method, path, headers=headers, **kwargs)
        finally:
            http.cookies.clear()
            if method == "POST" and path == "/logout":
                self.restore_sessions()

    def restore_sessions(self) -> None:
        """A logout voids every session of its user (users.session_epoch + 1): set the epochs back so the
        module's prepared session cookies stay valid for the next tests."""
        from einvoice.store.masterdata_models import User

        with self.db.transaction() as session:
            session.execute(sa.update(User).where(User.session_epoch != 0).values(session_epoch=0))

    def close(self) -> None:
        if "http" in self.cache:
            self.cache.pop("http").__exit__(None, None, None)

    def case_version(self, item_id: int) -> tuple[int, int]:
        """(case id, version) of the item's latest approval case."""
        from einvoice.store.routing_models import ApprovalCase

        with self.db.read() as session:
            case = session.scalars(sa.select(ApprovalCase).where(ApprovalCase.item_id == item_id)
                                   .order_by(ApprovalCase.id.desc())).first()
            return case.id, case.version

    def snapshot(self) -> tuple:
        """Every row of every table as text, sorted, in one query: equal before and after means nothing
        changed (the matrix takes thousands of these)."""
        if "snapshot_sql" not in self.cache:
            self.cache["snapshot_sql"] = _snapshot_sql(self.db.dialect)
        with self.db.engine.connect() as connection:
            return tuple(connection.exec_driver_sql(self.cache["snapshot_sql"]).one())


def _snapshot_sql(dialect: str) -> str:
    from einvoice.store.models import Base

    parts = []
    for table in Base.metadata.sorted_tables:
        if dialect == "postgresql":
            parts.append(f'(SELECT string_agg(t::text, chr(10) ORDER BY t::text) FROM "{table.name}" t)')
        else:
            row = " || ',' || ".join(f'quote("{column.name}")' for column in table.columns)
            parts.append(f'(SELECT group_concat(r, char(10)) FROM (SELECT {row} AS r FROM "{table.name}" ORDER BY 1))')
    return "SELECT " + ", ".join(parts)


# --- building -------------------------------------------------------------------------------------------

def _users(db, password_hash: str) -> dict[str, int]:
    from einvoice.store.masterdata_models import OrgUnit, User, UserUnit

    ids = {}
    with db.transaction() as session:
        units = {side: session.scalars(sa.select(OrgUnit).where(OrgUnit.code == code)).one() for side, code in
                 UNITS.items()}
        for username, (role, side) in ROLE_USERS.items():
            user = User(username=username, display_name=f"{role} {side}", roles=[role], active=True,
                        approval_limit=100000 if role == "approver" else None, password_hash=password_hash,
                        email=f"{username}@musterstadt.example")
            session.add(user)
            session.flush()
            session.add(UserUnit(user_id=user.id, unit_id=units[side].id))
            ids[username] = user.id
        for username in ("b.krause", "h.hoffmann", "g.alt"):
            ids[username] = session.scalars(sa.select(User.id).where(User.username == username)).one()
    return ids


def _item(db, side: str | None, *, state: str = "matched", mail: bool = False, gross: str = "3000") -> int:
    """An item with a real UBL file, parsed model and (with ``side``) an assignment to unit A or B."""
    from einvoice.intake.receive import receive
    from einvoice.intake.states import transition
    from einvoice.samples.generate import ubl_invoice
    from einvoice.store.masterdata_models import OrgUnit, Supplier
    from einvoice.store.models import IntakeItem, Job, ParsedInvoice
    from einvoice.store.routing_models import Assignment, MatchResult
    from workflow_fixtures import model_for

    number = f"RE-SEC-{next(_numbers):04d}"
    item = receive(db, ubl_invoice(number=number), channel="smtp" if mail else "upload", sender="test",
                   file_name=f"{number}.xml", envelope=EML if mail else None,
                   extra={"mail": {"notify_to": "rechnung@musterbau.example"}} if mail else None)
    with db.transaction() as session:
        row = session.get(IntakeItem, item.id)
        for step in ("validated", "parsed") + (("matched",) if side else ()):
            transition(row, step, "system:test", "test setup")
        row.invoice_number, row.seller_name = number, "Musterbau GmbH"
        session.add(ParsedInvoice(item_id=item.id, model=model_for(gross, number=number)))
        session.execute(sa.delete(Job).where(Job.item_id == item.id))  # the setup did the processing
        if side is None:
            session.add(MatchResult(item_id=item.id, actor="system:test", status="manual", confidence=0,
                                    explanation="Keine Regel passt"))
            return item.id
        unit = session.scalars(sa.select(OrgUnit.id).where(OrgUnit.code == UNITS[side])).one()
        supplier = session.scalars(sa.select(Supplier.id).where(Supplier.creditor_number == "70001")).one()
        session.add(Assignment(item_id=item.id, status="matched", unit_id=unit, supplier_id=supplier,
                               assigned_by="system:test"))
    if state != "matched":
        _advance(db, item.id, side, state)
    return item.id


def _advance(db, item_id: int, side: str, state: str) -> None:
    from einvoice.routing.clock import SYSTEM_CLOCK
    from einvoice.routing.deadlines.service import compute_for_item
    from einvoice.routing.workflow import approve, reject_to_supplier, run_decision, start_case
    from einvoice.store.masterdata_models import User
    from einvoice.store.models import IntakeItem
    from einvoice.store.routing_models import ApprovalCase

    with db.transaction() as session:
        start_case(session, session.get(IntakeItem, item_id), actor="system:test")
        compute_for_item(session, session.get(IntakeItem, item_id), settings=db.settings)
    deciders = {"A": ("approver-a", "b.krause"), "B": ("approver-b", "h.hoffmann")}[side]
    for position, username in enumerate(deciders if state != "in_approval" else ()):
        with db.read() as session:
            user = session.scalars(sa.select(User).where(User.username == username)).one()
            case = session.scalars(sa.select(ApprovalCase).where(ApprovalCase.item_id == item_id)).one()
        if state == "rejected":
            run_decision(db, reject_to_supplier, case.id, user=user, expected_version=case.version,
                         reason="Leistung nicht erbracht", clock=SYSTEM_CLOCK)
            return
        run_decision(db, approve, case.id, user=user, expected_version=case.version, clock=SYSTEM_CLOCK)


def _handoff(world: SecWorld) -> None:
    """Two payment runs (one cancelled) and two booking batches (one cancelled) of the approved invoice."""
    from einvoice.handoff.bookings.batches import cancel_batch, create_batch
    from einvoice.handoff.payments.runs import cancel_run, create_run

    db, settings = world.db, world.app.state.web.settings
    execution = date.today() + timedelta(days=3)
    for name in ("cancelled", "created"):
        with db.transaction() as session:
            run = create_run(session, db.blobs, actor="user:kaemmerei-a", execution_date=execution,
                             item_ids=[world.items["approved"]], settings=settings).run
            world.runs[name] = run.id
            if name == "cancelled":
                cancel_run(session, run.id, actor="user:kaemmerei-a", reason="Test")
    for name in ("cancelled", "created"):
        with db.transaction() as session:
            batch = create_batch(session, db.blobs, actor="user:kaemmerei-a", format="csv",
                                 item_ids=[world.items["approved"]])
            world.batches[name] = batch.id
            if name == "cancelled":
                cancel_batch(session, batch.id, actor="user:kaemmerei-a", reason="Test")


def _log_in(world: SecWorld, password_hash: str) -> None:
    """The first user logs in through the form (and the page shows the session's CSRF token); the others'
    sessions are made the way that login makes them (`Session.log_in`), sparing nine argon2 checks."""
    import re

    from einvoice.web.ui.session import COOKIE, Session, Signer

    first, *others = ROLE_USERS
    client = TestClient(world.app, follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post("/login", data={"csrf": token, "username": first, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    world.cookies[first] = client.cookies.get(COOKIE)
    world.csrf[first] = re.search(r'name="csrf" value="([^"]+)"', client.get("/aufgaben").text).group(1)
    signer = Signer(world.app.state.web.settings.data_dir)
    for username in others:
        session = Session()
        session.log_in(world.users[username], password_hash)
        world.cookies[username], world.csrf[username] = signer.dumps(session), session.csrf


def build_sec_world(db) -> SecWorld:
    from einvoice.demo.setup import build, example_dir
    from einvoice.web.app import create_app
    from einvoice.web.auth import StatusTokens
    from einvoice.web.ui.passwords import hash_password
    from einvoice.store.models import IntakeItem

    build(db, example_dir())
    settings = replace(db.settings, **DEBTOR)
    world = SecWorld(db=db, app=create_app(settings=settings, db=db))
    password_hash = hash_password(PASSWORD)
    world.users = _users(db, password_hash)
    world.items["A"], world.items["B"] = _item(db, "A", state="in_approval"), _item(db, "B", state="in_approval")
    world.items["queue"] = _item(db, None, mail=True)
    world.items["approved"] = _item(db, "A", state="approved", gross="1190.00")
    for state, side in itertools.product(STATES, UNITS):
        world.items[f"{state}-{side}"] = _item(db, side, state=state)
    _handoff(world)
    _log_in(world, password_hash)
    with db.read() as session:
        world.status_token = StatusTokens(settings.data_dir).token(session.get(IntakeItem, world.items["A"]).uid)
    return world


@pytest.fixture(scope="module", params=("sqlite", "postgresql"))
def sec_db(request, tmp_path_factory):
    """A database of this module and backend (copied from the migrated template of tests/pg.py)."""
    from einvoice.store import Database
    from pg import make_settings

    folder = tmp_path_factory.mktemp(f"websec-{request.param}")
    if request.param == "sqlite":
        path = folder / "einvoice.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url, drop = f"sqlite:///{path}", None
    else:
        cluster = request.getfixturevalue("pg_cluster")
        name = f"einvoice_websec_{os.getpid()}_{next(_databases)}"
        url = cluster.create_database(name, template=request.getfixturevalue("pg_template"))
        drop = lambda: cluster.drop_database(name)  # noqa: E731
    database = Database(settings=make_settings(Path(folder) / "data", url))
    yield database
    database.dispose()
    if drop:
        drop()


@pytest.fixture(scope="module")
def sec_world(sec_db, monkeypatch_module) -> SecWorld:
    world = build_sec_world(sec_db)
    yield world
    world.close()


@pytest.fixture(scope="module")
def monkeypatch_module():
    """The API token and no base URL / secret key from the developer's environment, for the whole module."""
    patch = pytest.MonkeyPatch()
    patch.setenv("EINVOICE_API_TOKEN", TOKEN)
    for name in ("EINVOICE_BASE_URL", "EINVOICE_SECRET_KEY", "EINVOICE_TRUSTED_USER_HEADER", "EINVOICE_OIDC_ISSUER",
                 "EINVOICE_ARCHIVE_TARGET", "EINVOICE_SESSION_MINUTES"):
        patch.delenv(name, raising=False)
    yield patch
    patch.undo()
