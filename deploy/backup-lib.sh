# shellcheck shell=bash disable=SC2034,SC2154
# (SC2034/SC2154: the variables are set for, and python comes from, the sourcing script)
# Shared by backup.sh and restore.sh (sourced, not run): read_settings sets kind (postgresql|sqlite),
# data_dir, sqlite_file and, for PostgreSQL, exports PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE from
# einvoice's own settings (environment and EINVOICE_CONFIG file), so that the password never appears
# on a command line. Needs $python (the einvoice venv's python).

read_settings() {
    local assignments
    kind='' data_dir='' sqlite_file=''
    assignments=$("$python" - <<'PY'
import shlex
from sqlalchemy.engine import make_url
from einvoice.config import load_settings

settings = load_settings()
url = make_url(settings.effective_database_url)
print(f"kind={shlex.quote(url.get_backend_name())}")
print(f"data_dir={shlex.quote(str(settings.data_dir))}")
if url.get_backend_name() == "sqlite":
    print(f"sqlite_file={shlex.quote(url.database or '')}")
else:
    parts = {"PGHOST": url.host or url.query.get("host"), "PGPORT": url.port, "PGUSER": url.username,
             "PGPASSWORD": url.password, "PGDATABASE": url.database}
    for name, value in parts.items():
        if value:
            print(f"export {name}={shlex.quote(str(value))}")
PY
)
    eval "$assignments"
}
