#!/usr/bin/env bash
# einvoice backup: the database first, then the data folder (blob store, rule packs, keys).
#
#   deploy/backup.sh DEST_DIR          # writes DEST_DIR/<UTC time>/ (see deploy/README.md, "Backup")
#
# Settings come from einvoice itself (environment and EINVOICE_CONFIG file), so run it with the same
# environment as the services (einvoice-backup.service does). Order matters: blobs are
# content-addressed and only ever added, so a blob copy taken AFTER the database dump holds every blob
# the dump refers to (plus perhaps a few newer ones, which are harmless). The services may keep running.
#
# Environment: EINVOICE_VENV (default /opt/einvoice/venv), PG_BIN (folder of pg_dump; default: PATH),
# EINVOICE_BACKUP_KEEP (keep the newest N backups in DEST_DIR, remove older ones; default 0 = keep all).
# Output: database.dump (pg_dump -Fc) or einvoice.db (SQLite), data.tar, schema-revision.txt, SHA256SUMS.
set -euo pipefail
umask 077

if [[ $# -ne 1 || $1 == -* ]]; then
    echo "usage: $0 DEST_DIR" >&2
    exit 2
fi
dest_root=$1
venv=${EINVOICE_VENV:-/opt/einvoice/venv}
python=$venv/bin/python
keep=${EINVOICE_BACKUP_KEEP:-0}

# database URL and data folder as einvoice sees them; PostgreSQL connection parts as PG* variables
# (the password never appears on a command line)
# shellcheck source=backup-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/backup-lib.sh"
read_settings

stamp=$(date -u +%Y%m%dT%H%M%SZ)
target=$dest_root/$stamp
partial=$dest_root/.$stamp.partial
mkdir -p "$partial"
trap 'rm -rf -- "$partial"' EXIT

# 1. the database
case $kind in
    postgresql)
        "${PG_BIN:+$PG_BIN/}pg_dump" --format=custom --compress=6 --file="$partial/database.dump"
        ;;
    sqlite)
        "$python" - "$sqlite_file" "$partial/einvoice.db" <<'PY'
import sqlite3, sys
source, copy = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
with copy:
    source.backup(copy)  # a consistent copy while the services write
copy.close()
source.close()
PY
        ;;
    *)
        echo "einvoice backup: unsupported database kind $kind" >&2
        exit 2
        ;;
esac

# 2. then the files: blobs/, rule-packs/, generated keys (never the SQLite file or temporary files)
tar --create --file="$partial/data.tar" --directory="$data_dir" \
    --exclude=./einvoice.db --exclude=./einvoice.db-wal --exclude=./einvoice.db-shm \
    --exclude='.incoming-*' --exclude='.tmp-*' --exclude='.readyz-*' .

# 3. what this backup is, and checksums for the restore
"$venv/bin/einvoice" db current >"$partial/schema-revision.txt" 2>/dev/null || true
(cd "$partial" && sha256sum -- * >SHA256SUMS)
mv -- "$partial" "$target"
trap - EXIT
echo "einvoice backup: $target"

# 4. keep the newest N
if [[ $keep -gt 0 ]]; then
    mapfile -t old < <(find "$dest_root" -mindepth 1 -maxdepth 1 -type d -name '20*Z' | sort -r | tail -n +"$((keep + 1))")
    for folder in "${old[@]}"; do
        rm -rf -- "$folder"
        echo "einvoice backup: removed $folder"
    done
fi
