#!/usr/bin/env bash
# einvoice restore: database and data folder from one backup of deploy/backup.sh, then a check that
# every blob the database refers to is there and intact.
#
#   systemctl stop einvoice.target                 # nothing may write meanwhile
#   deploy/restore.sh [--replace] BACKUP_DIR       # e.g. /var/backups/einvoice/20261125T011500Z
#
# Settings come from einvoice itself (environment and EINVOICE_CONFIG file): the backup goes into the
# database and data folder configured there. PostgreSQL: the database must exist (empty, owned by the
# einvoice role: deploy/postgresql.md); SQLite: the file is replaced. A database that already holds
# invoices is only overwritten with --replace. Exit status: 0 restored and verified; 1 verification
# failed; 2 usage, checksum or refusal.
#
# Environment: EINVOICE_VENV (default /opt/einvoice/venv), PG_BIN (folder of pg_restore; default PATH).
set -euo pipefail
umask 027

replace=no
if [[ ${1:-} == --replace ]]; then
    replace=yes
    shift
fi
if [[ $# -ne 1 || $1 == -* ]]; then
    echo "usage: $0 [--replace] BACKUP_DIR" >&2
    exit 2
fi
backup=$1
venv=${EINVOICE_VENV:-/opt/einvoice/venv}
python=$venv/bin/python

if ! (cd "$backup" && sha256sum --check --quiet SHA256SUMS); then
    echo "einvoice restore: $backup is incomplete or damaged (SHA256SUMS do not match)" >&2
    exit 2
fi

# shellcheck source=backup-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/backup-lib.sh"
read_settings

# refuse to overwrite a database with invoices in it unless asked to
items=$("$python" - <<'PY'
from sqlalchemy import inspect, text
from einvoice.store import Database

db = Database()
try:
    with db.engine.connect() as connection:
        has = inspect(connection).has_table("intake_items")
        print(connection.execute(text("SELECT count(*) FROM intake_items")).scalar() if has else 0)
except Exception as exc:  # a missing SQLite file is fine; a missing PostgreSQL database is not
    print(f"error: {exc}")
finally:
    db.dispose()
PY
)
if [[ $items == error:* ]]; then
    echo "einvoice restore: cannot open the target database: ${items#error: }" >&2
    exit 2
fi
if [[ $items -gt 0 && $replace != yes ]]; then
    echo "einvoice restore: the target database holds $items invoices; use --replace to overwrite it" >&2
    exit 2
fi

# 1. the database
case $kind in
    postgresql)
        [[ -f $backup/database.dump ]] || { echo "einvoice restore: no database.dump in $backup" >&2; exit 2; }
        "${PG_BIN:+$PG_BIN/}pg_restore" --clean --if-exists --no-owner --no-privileges --single-transaction \
            --exit-on-error --dbname="$PGDATABASE" "$backup/database.dump"
        ;;
    sqlite)
        [[ -f $backup/einvoice.db ]] || { echo "einvoice restore: no einvoice.db in $backup" >&2; exit 2; }
        mkdir -p -- "$(dirname -- "$sqlite_file")"
        rm -f -- "$sqlite_file-wal" "$sqlite_file-shm"
        cp -- "$backup/einvoice.db" "$sqlite_file.restoring"
        mv -- "$sqlite_file.restoring" "$sqlite_file"
        ;;
    *)
        echo "einvoice restore: unsupported database kind $kind" >&2
        exit 2
        ;;
esac

# 2. the files (blobs are content-addressed: a file already there has the same bytes)
mkdir -p -- "$data_dir"
tar --extract --file="$backup/data.tar" --directory="$data_dir"

# 3. check: schema revision, every referenced blob present and intact
"$python" - <<'PY'
import sys
from sqlalchemy import func, select
from einvoice.store import Blob, Database, IntakeItem
from einvoice.store.migrate import current_revision, head_revision

db = Database()
try:
    revision, head = current_revision(db.url), head_revision()
    with db.read() as session:
        items = session.scalar(select(func.count()).select_from(IntakeItem))
        hashes = session.scalars(select(Blob.sha256)).all()
    bad = [sha for sha in hashes if not db.blobs.verify(sha)]
finally:
    db.dispose()
print(f"einvoice restore: {items} invoices, {len(hashes) - len(bad)} of {len(hashes)} blobs present and intact, "
      f"schema {revision}" + ("" if revision == head else f" (this einvoice needs {head}: run `einvoice db upgrade`)"))
for sha in bad[:20]:
    print(f"einvoice restore: blob {sha} missing or damaged", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
