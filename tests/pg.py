"""Test databases: a throwaway PostgreSQL cluster from the Debian packages, and fixtures that run a
test on SQLite and on PostgreSQL.

`pg_cluster` (session): finds ``/usr/lib/postgresql/*/bin`` (the newest version), runs ``initdb``
into a temporary folder owned by the ``postgres`` user (via ``runuser -u postgres --`` when the
tests run as root, as on CI), starts it with ``pg_ctl`` on a free localhost port and stops and
removes it after the session. Skipped, with the reason, where the binaries are absent
(``apt-get install -y postgresql`` brings them). ``EINVOICE_TEST_POSTGRES_URL`` (an admin URL of a
running server, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``) uses that server instead;
``EINVOICE_TEST_REQUIRE_POSTGRES=1`` (CI) turns the skip into a failure.

`db_url` is parametrized over ``sqlite`` and ``postgresql``: each test gets an empty, migrated
database of its own (PostgreSQL: ``CREATE DATABASE ... TEMPLATE`` of one migrated template).
`db` is an `einvoice.store.Database` on it with its own data folder (blobs) and fast job settings.

Use in a test module: ``pytest_plugins = ["pg"]`` (one cluster for the whole session, however many modules).
"""

from __future__ import annotations

import glob
import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest

BACKENDS = ("sqlite", "postgresql")
PG_URL_ENV = "EINVOICE_TEST_POSTGRES_URL"
REQUIRE_ENV = "EINVOICE_TEST_REQUIRE_POSTGRES"  # CI: fail instead of skipping when PostgreSQL is missing
_counter = itertools.count(1)


def find_pg_bin() -> Path | None:
    candidates = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        version = Path(initdb).parent.parent.name
        key = tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)
        candidates.append((key, Path(initdb).parent))
    if not candidates:
        return None
    return max(candidates)[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgCluster:
    """One PostgreSQL server for the test session; `create_database` gives each test its own database."""

    def __init__(self, admin_url: str, stop=None):
        self.admin_url = admin_url
        self._stop = stop

    def _admin(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url.replace("postgresql+psycopg://", "postgresql://"),
                             autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def url_for(self, name: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.admin_url).set(drivername="postgresql+psycopg", database=name) \
            .render_as_string(hide_password=False)

    def create_database(self, name: str, template: str | None = None) -> str:
        self._admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self._stop:
            self._stop()


def start_cluster() -> PgCluster:
    bindir = find_pg_bin()
    if bindir is None and os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{REQUIRE_ENV} is set but there are no PostgreSQL binaries under /usr/lib/postgresql/*/bin "
                    "(apt-get install -y postgresql)")
    if bindir is None:
        pytest.skip("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin "
                    "(apt-get install -y postgresql); skipping the PostgreSQL variant of the storage tests")
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="einvoice-pg-"))
    if as_root:
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base, ignore_errors=True)
            pytest.skip("running as root but there is no 'postgres' user to run PostgreSQL as "
                        "(apt-get install -y postgresql creates it)")
        os.chown(base, user.pw_uid, user.pw_gid)
        base.chmod(0o700)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, log = base / "data", base / "server.log"
    port = _free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                               + (log.read_text(errors='replace') if log.exists() else ""))

    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
        "--locale=C", "--no-sync")
    options = (f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
               f"-c full_page_writes=off -c max_connections=200")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")

    def stop() -> None:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)

    return PgCluster(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop)


@pytest.fixture(scope="session")
def pg_cluster():
    if os.environ.get(PG_URL_ENV):
        yield PgCluster(os.environ[PG_URL_ENV])
        return
    started = time.perf_counter()
    cluster = start_cluster()
    cluster.startup_seconds = time.perf_counter() - started
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_template(pg_cluster):
    """A migrated database that each test's database is copied from."""
    from einvoice.store.migrate import upgrade

    name = f"einvoice_template_{os.getpid()}"
    pg_cluster.drop_database(name)
    url = pg_cluster.create_database(name)
    upgrade(url)
    yield name
    pg_cluster.drop_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    from einvoice.store.migrate import upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "einvoice.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    cluster = request.getfixturevalue("pg_cluster")
    template = request.getfixturevalue("pg_template")
    name = f"einvoice_test_{os.getpid()}_{next(_counter)}"
    yield cluster.create_database(name, template=template)
    cluster.drop_database(name)


def make_settings(data_dir: Path, url: str):
    from einvoice.config import load_settings

    return replace(load_settings(), data_dir=data_dir, database_url=url, job_max_attempts=3, notice_max_attempts=3,
                   job_lease_seconds=30.0, job_retry_seconds=0.0, worker_poll_seconds=0.05)


@pytest.fixture
def db(db_url, tmp_path):
    from einvoice.store import Database

    database = Database(settings=make_settings(tmp_path / "data", db_url))
    yield database
    database.dispose()
