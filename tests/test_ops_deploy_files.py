"""The files under deploy/ are consistent with the code: systemd units parse (``systemd-analyze verify``
where present) and start real ``einvoice`` commands with real options, hardened; nginx's body limits
are at least the app's and /metrics is denied (``nginx -t`` where nginx is installed); the compose
file and the alert rules are valid YAML naming real commands, settings and metrics; the scripts pass
``bash -n`` (and shellcheck where installed); deploy/README.md names every file.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from einvoice.cli import _parser
from einvoice.config import load_settings
from einvoice.web.context import WebContext

pytest_plugins = ["pg"]  # tests/pg.py: sqlite_template (a migrated SQLite file) for the metrics names

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").iterdir())
EINVOICE = "/opt/einvoice/venv/bin/einvoice"
SCRIPTS = [DEPLOY / "backup.sh", DEPLOY / "restore.sh", DEPLOY / "backup-lib.sh", DEPLOY / "einvoice-admin"]
HARDENING = {"User": "einvoice", "Group": "einvoice", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
             "ProtectSystem": "strict", "ProtectHome": "yes", "CapabilityBoundingSet": ""}


def yaml():
    return pytest.importorskip("yaml", reason="PyYAML is not installed (pip install -e '.[test]')")


def assert_einvoice_command(argv: list[str], where: str) -> None:
    """``argv`` (after the program) is accepted by the real `einvoice` argument parser."""
    try:
        _parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{where}: `einvoice {' '.join(argv)}` is not a valid einvoice command line ({exc})")


class Section(dict):
    """A unit file section: key → the values of every line with that key (systemd allows repeats)."""

    def get(self, key: str, default=None):  # the last value, as systemd's single-valued keys
        return self[key][-1] if key in self else default


def unit(path: Path) -> dict[str, Section]:
    sections: dict[str, Section] = {}
    current = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], Section())
            continue
        key, equals, value = line.partition("=")
        assert current is not None and equals and key.strip() == key and key, f"{path.name}:{number}: {line!r}"
        current.setdefault(key, []).append(value)
    return sections


# --- systemd ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [p for p in UNITS if p.suffix == ".service"], ids=lambda p: p.name)
def test_service_units_start_real_commands_hardened(path):
    service = unit(path)["Service"]
    argv = shlex.split(service.get("ExecStart").replace("%i", "8001"))
    if argv[0] == EINVOICE:
        assert_einvoice_command(argv[1:], path.name)
    else:
        assert argv[0] == "/opt/einvoice/deploy/" + argv[0].rsplit("/", 1)[-1]
        assert (DEPLOY / Path(argv[0]).name).is_file(), argv[0]
    for key, expected in HARDENING.items():
        assert service.get(key) == expected, (path.name, key)
    writable = service.get("ReadWritePaths", "").split()
    assert "/var/lib/einvoice" in writable or "/var/lib/einvoice" in service.get("ReadOnlyPaths", "").split()
    assert service.get("EnvironmentFile") == "-/etc/einvoice/einvoice.env"
    assert "EINVOICE_CONFIG=/etc/einvoice/einvoice.toml" in service["Environment"]
    assert len(service["ExecStart"]) == 1 and {"Unit", "Service"} <= set(unit(path))


def test_web_instances_migrate_nothing_and_process_nothing():
    argv = shlex.split(unit(DEPLOY / "systemd" / "einvoice-web@.service")["Service"].get("ExecStart"))
    assert argv[1] == "serve" and {"--no-worker", "--no-migrate"} <= set(argv)
    assert argv[argv.index("--port") + 1] == "%i" and argv[argv.index("--host") + 1] == "127.0.0.1"
    worker = shlex.split(unit(DEPLOY / "systemd" / "einvoice-worker@.service")["Service"].get("ExecStart"))
    assert worker[1:] == ["worker"]  # long-running (not --once): it also runs the deadline scheduler


@pytest.mark.parametrize("path", [p for p in UNITS if p.suffix == ".timer"], ids=lambda p: p.name)
def test_timers_start_an_existing_service(path):
    timer = unit(path)
    assert timer["Timer"].get("OnCalendar") and timer["Timer"].get("Persistent") == "true"
    assert (path.with_suffix(".service")).is_file()


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path):
    einvoice = Path(sys.executable).parent / "einvoice"
    for path in UNITS:  # the installed paths replaced by this checkout's, so the commands exist
        text = path.read_text().replace(EINVOICE, str(einvoice)).replace("/opt/einvoice/deploy/", f"{DEPLOY}/")
        (tmp_path / path.name).write_text(text)
    names = [p.name.replace("@.", "@1.") for p in UNITS]
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *[f"./{n}" for n in names]], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # systemd only warns about a wrong value and ignores the line: those warnings are failures here
    assert not re.search(r"Failed|Unknown|ignoring|not executable|Invalid", output), output


# --- nginx -----------------------------------------------------------------------------------------

def _size(text: str) -> int:
    number, unit_ = re.fullmatch(r"(\d+)([kKmMgG]?)", text).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[unit_.lower()]


def nginx_locations(text: str) -> list[tuple[str, str, str]]:
    """(modifier, pattern, body) of every location block of the https server (no nested blocks)."""
    https = text[text.index("listen 443"):]
    return re.findall(r"location\s+(=|~|~\*|\^~)?\s*(\S+)\s*\{([^{}]*)\}", https)


def location_for(locations, path: str) -> str:
    """The body of the location nginx picks for ``path`` (exact, then regex, then longest prefix)."""
    for modifier, pattern, body in locations:
        if modifier == "=" and pattern == path:
            return body
    for modifier, pattern, body in locations:
        if modifier in ("~", "~*") and re.search(pattern, path, re.I if modifier == "~*" else 0):
            return body
    prefixes = [(pattern, body) for modifier, pattern, body in locations if not modifier and path.startswith(pattern)]
    return max(prefixes, key=lambda item: len(item[0]))[1]


def test_nginx_body_limits_cover_the_apps_limits_and_metrics_is_denied():
    text = (DEPLOY / "nginx" / "einvoice.conf").read_text()
    locations = nginx_locations(text)
    server_default = _size(re.search(r"\n    client_max_body_size (\w+);", text).group(1))
    ctx = WebContext(db=None, settings=load_settings(), tokens=None)
    paths = ["/upload", "/api/v1/invoices", "/api/v1/masterdata/suppliers/import",
             "/verwaltung/stammdaten/users/import", "/login", "/rechnungen/7/aktion", "/api/v1/matching/rules"]
    for path in paths:
        body = location_for(locations, path)
        found = re.search(r"client_max_body_size (\w+);", body)
        nginx_limit = _size(found.group(1)) if found else server_default
        assert nginx_limit >= ctx.request_limit(path), (path, nginx_limit, ctx.request_limit(path))
        assert "proxy_pass http://einvoice_web;" in body, path
    assert _size(re.search(r"client_max_body_size (\w+);", location_for(locations, "/upload")).group(1)) \
        >= 2 * max(load_settings().max_pdf_bytes, load_settings().max_xml_bytes)
    metrics = location_for(locations, "/metrics")
    assert "deny all;" in metrics and "proxy_pass" not in metrics
    for path in ("/readyz", "/healthz", "/livez"):
        assert "deny all;" in location_for(locations, path) and "allow 127.0.0.1;" in location_for(locations, path)
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text  # a client cannot prepend 127.0.0.1
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text
    assert 'proxy_set_header X-Remote-User "";' in text  # the SSO header never comes from a client
    assert re.search(r"add_header Strict-Transport-Security \"max-age=\d{8,}\" always;", text)
    assert re.search(r"ssl_protocols TLSv1\.2 TLSv1\.3;", text)
    assert "return 301 https://$host$request_uri;" in text


@pytest.mark.skipif(not shutil.which("nginx") or not shutil.which("openssl"), reason="nginx or openssl not installed")
def test_nginx_accepts_the_site(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=rechnung.example.de", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    site = (DEPLOY / "nginx" / "einvoice.conf").read_text()
    site = site.replace("/etc/letsencrypt/live/rechnung.example.de/fullchain.pem", str(cert))
    site = site.replace("/etc/letsencrypt/live/rechnung.example.de/privkey.pem", str(key))
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  client_body_temp_path {tmp_path}/body;\n  proxy_temp_path {tmp_path}/proxy;\n"
        f"  access_log off;\n  include {tmp_path}/site.conf;\n}}\n")
    done = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "test is successful" in done.stderr, done.stderr
    assert "[warn]" not in done.stderr, done.stderr


# --- containers ------------------------------------------------------------------------------------

def test_compose_file_runs_real_commands_on_shared_volumes():
    compose = yaml().safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "db-upgrade", "web", "worker"} <= set(services)
    for name, service in services.items():
        if name == "postgres":
            continue
        assert service["command"][0] == "einvoice", name
        assert_einvoice_command(service["command"][1:], f"docker-compose.yml {name}")
        assert "einvoice-data:/var/lib/einvoice" in service["volumes"], name  # one blob store for all
        assert service["env_file"] == "einvoice.env" and service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert services["db-upgrade"]["command"] == ["einvoice", "db", "upgrade"]
    for name in ("web", "worker"):
        assert services[name]["depends_on"] == {"db-upgrade": {"condition": "service_completed_successfully"}}
    assert "--no-migrate" in services["web"]["command"] and services["worker"]["deploy"]["replicas"] == 2
    assert services["db-upgrade"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert all(port.startswith("127.0.0.1:") for port in services["web"]["ports"])
    assert {"pgdata", "einvoice-data"} <= set(compose["volumes"])
    assert (ROOT / services["web"]["build"]["dockerfile"]).is_file()


def test_env_example_names_only_real_settings_and_no_real_secret():
    from einvoice.config.catalogue import find

    lines = [line for line in (DEPLOY / "einvoice.env.example").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    names = [line.split("=", 1)[0] for line in lines]
    for name in names:
        if name.startswith("EINVOICE_"):
            find(name)  # raises for a setting the catalogue does not know
    assert {"EINVOICE_DATABASE_URL", "EINVOICE_SECRET_KEY", "EINVOICE_API_TOKEN", "POSTGRES_PASSWORD"} <= set(names)
    for line in lines:
        if re.search(r"SECRET|TOKEN|PASSWORD", line.split("=", 1)[0]):
            assert line.endswith("=CHANGE-ME"), line
    assert "CHANGE-ME@" in dict(line.split("=", 1) for line in lines)["EINVOICE_DATABASE_URL"]


def test_dockerfile_is_slim_non_root_without_secrets():
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert not re.search(r"^(ENV|ARG)\b[^\n]*(SECRET|TOKEN|PASSWORD)", text, re.M | re.I)
    for source in re.findall(r"^COPY (\S+) ", text, re.M):
        assert (ROOT / source).exists(), source
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M).group(1)
    import json

    argv = json.loads(cmd)
    assert argv[0] == "einvoice"
    assert_einvoice_command(argv[1:], "Dockerfile CMD")
    assert "/readyz" in text  # the health check


# --- scripts, monitoring, documentation ------------------------------------------------------------

@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_scripts_are_valid_bash(path):
    done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    text = path.read_text()
    if path.name != "backup-lib.sh":  # sourced, not run
        assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
        assert path.stat().st_mode & 0o111, f"{path.name} is not executable"


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck not installed")
def test_scripts_pass_shellcheck():
    done = subprocess.run(["shellcheck", "-x", *[p.name for p in SCRIPTS]], cwd=DEPLOY, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_alert_rules_use_only_metrics_that_exist(sqlite_template, tmp_path):
    from dataclasses import replace

    from einvoice.store import Database
    from einvoice.web.metrics import make_registry, render

    shutil.copyfile(sqlite_template, tmp_path / "einvoice.db")
    db = Database(f"sqlite:///{tmp_path / 'einvoice.db'}", settings=replace(load_settings(), data_dir=tmp_path))
    try:
        exposed = set(re.findall(r"^# TYPE (einvoice_\w+) ", render(make_registry(db)).decode(), re.M))
    finally:
        db.dispose()
    rules = yaml().safe_load((DEPLOY / "prometheus" / "einvoice-alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(alerts) >= 8
    assert all(rule["alert"] and rule["expr"] and rule["annotations"]["summary"] for rule in alerts)
    used = {name for rule in alerts for name in re.findall(r"\beinvoice_\w+", str(rule["expr"]))}
    assert used and used <= exposed, used - exposed
    assert {"einvoice_oldest_queued_job_age_seconds", "einvoice_jobs", "einvoice_skonto_at_risk_eur"} <= used
    scrape = yaml().safe_load((DEPLOY / "prometheus" / "scrape-einvoice.yml").read_text())
    assert scrape[0]["job_name"] == "einvoice"  # the alerts' up{job="einvoice"}


def test_readme_explains_every_deploy_file():
    readme = (DEPLOY / "README.md").read_text()
    files = [p for p in DEPLOY.rglob("*") if p.is_file() and p.name != "README.md" and "__pycache__" not in p.parts]
    assert len(files) >= 20
    missing = [str(p.relative_to(DEPLOY)) for p in files
               if str(p.relative_to(DEPLOY)) not in readme and p.name not in readme
               and p.name.replace(".service", "").replace(".timer", "") not in readme]
    assert not missing, f"deploy/README.md does not mention: {missing}"
    for heading in ("## Architecture", "## Install on Debian 12", "## Configuration", "## Upgrade", "## Logs",
                    "## Backup and restore", "## Monitoring", "## Containers", "## Scale-out"):
        assert heading in readme, heading


def test_toml_example_is_what_config_show_prints():
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}  # no settings of this machine in the example
    done = subprocess.run([str(Path(sys.executable).parent / "einvoice"), "config", "show", "--format", "toml"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (DEPLOY / "einvoice.toml.example").read_text() == done.stdout, (
        "deploy/einvoice.toml.example is out of date: env -i PATH=/usr/bin:/bin HOME=/nonexistent "
        ".venv/bin/einvoice config show --format toml > deploy/einvoice.toml.example")
