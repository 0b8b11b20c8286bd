"""Where a setting's value comes from: the environment, then the TOML file, then the catalogue default.

The file: ``einvoice --config PATH`` / ``einvoice config check --config PATH``, else ``EINVOICE_CONFIG``,
else ``/etc/einvoice/einvoice.toml`` if it exists (no file at all is fine: environment and defaults).
A file named explicitly must exist. It is parsed with the standard library's ``tomllib`` and checked
against the catalogue: an unknown section or key, or a value of the wrong TOML type, is an error naming
the key, its section and its line (`ConfigFile.problems`; `strict` raises `ConfigError` with them).
Relative paths in the file are relative to the file's folder.

**Precedence**: an environment variable that is set and not blank wins over the file; the file wins over
the default. A secret ``X`` is looked up as ``EINVOICE_X``, ``EINVOICE_X_FILE`` (the file's content),
``x`` in the file, ``x_file`` in the file — first found wins.

**No stale values**: the environment is read at every lookup (tests that ``monkeypatch.setenv`` keep
working); the parsed file is cached per (path, mtime, size, inode), so an edited file is read again.
Settings read at every use (API token, session minutes, OIDC …) thus follow an edited file at once;
the `einvoice.config.Settings` object is read when a command starts: restart services after a change.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .catalogue import BY_KEY, SECTIONS, Setting, find
from .setting import as_text

CONFIG_ENV = "EINVOICE_CONFIG"
DEFAULT_PATH = Path("/etc/einvoice/einvoice.toml")
_PARENTS = {section.rsplit(".", 1)[0] for section in SECTIONS if "." in section}


class ConfigError(ValueError):
    """A setting or the configuration file is wrong; the message names the setting and what to do."""


@dataclass(frozen=True)
class Found:
    """A value found for a setting: ``raw`` as given (text from the environment, TOML value from the file)."""

    setting: Setting
    raw: Any
    origin: str  # env | env-file | file | file-file
    where: str  # for messages: "EINVOICE_X", "[web] secret_key_file in /etc/…toml line 4", …

    @property
    def text(self) -> str:
        return self.raw if isinstance(self.raw, str) else as_text(self.raw)

    def parsed(self) -> Any:
        try:
            if self.origin in ("env", "env-file", "file-file"):
                return self.setting.parse_text(self.text)
            return self.setting.parse_toml(self.raw)
        except ValueError as exc:
            raise ConfigError(f"{self.where}: {exc}") from None


@dataclass(frozen=True)
class ConfigFile:
    path: Path | None  # None: no file
    values: dict[tuple[str, str], Any] = field(default_factory=dict)  # (section, key) → TOML value (checked)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    bad_values: dict[tuple[str, str], str] = field(default_factory=dict)  # (section, key) of a setting → problem

    def where(self, section: str, key: str) -> str:
        line = self.lines.get((section, key))
        return f"[{section}] {key} in {self.path}" + (f" line {line}" if line else "")

    def strict(self) -> "ConfigFile":
        if self.problems:
            raise ConfigError(f"configuration file {self.path}: " + "; ".join(self.problems)
                              + " (see `einvoice config check`)")
        return self


_forced: list[Path] = []
_cache: dict[Path, tuple[tuple, ConfigFile]] = {}
_lock = threading.Lock()


@contextlib.contextmanager
def using_file(path: str | Path | None) -> Iterator[None]:
    """Within the block, the file is ``path`` (``einvoice config check --config PATH``); None: unchanged."""
    if path is None:
        yield
        return
    _forced.append(Path(path))
    try:
        yield
    finally:
        _forced.pop()


def file_path() -> tuple[Path | None, bool]:
    """(path, named explicitly); (None, False) when no file is named and the default does not exist."""
    if _forced:
        return _forced[-1], True
    named = os.environ.get(CONFIG_ENV, "").strip()
    if named:
        return Path(named).expanduser(), True
    return (DEFAULT_PATH, False) if DEFAULT_PATH.exists() else (None, False)


def current() -> ConfigFile:
    """The configuration file as it is now (parsed once per change), problems included, not raised."""
    path, explicit = file_path()
    if path is None:
        return ConfigFile(None)
    path = path.absolute()
    try:
        info = path.stat()
    except OSError as exc:
        if not explicit:
            return ConfigFile(None)
        return ConfigFile(path, problems=(f"cannot read the file ({exc.strerror or exc}); set {CONFIG_ENV} or "
                                          "--config to an existing file",))
    stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
    with _lock:
        cached = _cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
    loaded = read_file(path)
    with _lock:
        _cache[path] = (stamp, loaded)
    return loaded


def read_file(path: Path) -> ConfigFile:
    try:
        text = path.read_bytes().decode("utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return ConfigFile(path, problems=(f"not a readable TOML file: {exc}",))
    lines = _key_lines(text)
    values: dict[tuple[str, str], Any] = {}
    problems: list[str] = []
    bad: dict[tuple[str, str], str] = {}
    _walk(data, "", path, lines, values, problems, bad)
    return ConfigFile(path, values, lines, tuple(problems), bad)


def _walk(table: dict, section: str, path: Path, lines, values, problems, bad) -> None:
    for key, raw in table.items():
        name = f"{section}.{key}" if section else key
        line = lines.get((section, key))
        at = f" (line {line})" if line else ""
        if isinstance(raw, dict) and (name in SECTIONS or name in _PARENTS):
            _walk(raw, name, path, lines, values, problems, bad)
            continue
        if name in SECTIONS or name in _PARENTS:
            problems.append(f"[{name}]{at} must be a section (a table), not a single value")
            continue
        if isinstance(raw, dict) and section not in SECTIONS:
            problems.append(f"unknown section [{name}]{at}{_close(name, list(SECTIONS))}")
            continue
        if not section:
            homes = [f"[{s.section}]" for s in BY_KEY.values() if key in (s.key, s.file_key)]
            problems.append(f"key {key!r}{at} is outside any section"
                            + (f": put it under {' or '.join(homes)}" if homes else " and unknown"))
            continue
        if section not in SECTIONS:
            problems.append(f"unknown key {key!r} in [{section}]{at}")
            continue
        setting = BY_KEY.get((section, key))
        file_of = BY_KEY.get((section, key.removesuffix("_file"))) if key.endswith("_file") else None
        if setting is None and (file_of is None or not file_of.file_capable):
            known = [s.key for s in BY_KEY.values() if s.section == section]
            known += [s.file_key for s in BY_KEY.values() if s.section == section and s.file_capable]
            problems.append(f"unknown key {key!r} in [{section}]{at}{_close(key, known)}")
            continue
        if setting is not None:
            try:
                setting.parse_toml(raw)
            except ValueError as exc:
                problems.append(f"[{section}] {key}{at} {exc}")
                bad[(section, key)] = problems[-1]
                continue
        elif not isinstance(raw, str):
            problems.append(f"[{section}] {key}{at} must be a file name in quotes")
            bad[(section, file_of.key)] = problems[-1]
            continue
        if isinstance(raw, str):
            if not raw.strip():
                continue  # blank: as if not set
            if file_of is not None or setting.kind == "path":
                raw = str((path.parent / Path(raw.strip()).expanduser()))
        values[(section, key)] = raw


def _close(word: str, known: list[str]) -> str:
    match = difflib.get_close_matches(word, known, n=1)
    return f" — did you mean {match[0]!r}?" if match else ""


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=")


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """(section, key) → line number, for messages (plain keys and [dotted.tables]; good enough for admins)."""
    found: dict[tuple[str, str], int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            section = header.group(1).replace('"', "").replace(" ", "")
            parent, _, last = section.rpartition(".")
            found.setdefault((parent, last), number)
            continue
        key = _KEY.match(line)
        if key:
            dotted = key.group(1).replace('"', "").replace("'", "").replace(" ", "")
            full = f"{section}.{dotted}" if section else dotted
            parent, _, last = full.rpartition(".")
            found.setdefault((parent, last), number)
    return found


def _read_secret(name: str, path: str) -> str:
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read().strip()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read the file {path} ({exc.strerror or exc})") from None


def lookup(name: str, config: ConfigFile | None = None) -> Found | None:
    """Where ``name``'s value comes from now, or None (not set: the default applies).

    For ``EINVOICE_X_FILE`` names: the file name itself. Raises `ConfigError` when the configuration
    file has problems (unless ``config`` is passed, e.g. by `einvoice config check`) or a secret's
    file cannot be read."""
    setting = find(name)
    config = config if config is not None else current().strict()
    if name == setting.file_env:
        text = os.environ.get(name, "")
        if text.strip():
            return Found(setting, text.strip(), "env", name)
        raw = config.values.get((setting.section, setting.file_key))
        return None if raw is None else Found(setting, raw, "file", config.where(setting.section, setting.file_key))
    text = os.environ.get(name, "")
    if text.strip():
        return Found(setting, text, "env", name)
    if setting.file_capable:
        named = os.environ.get(setting.file_env, "").strip()
        if named:
            return Found(setting, _read_secret(setting.file_env, named), "env-file", f"{setting.file_env} ({named})")
    raw = config.values.get((setting.section, setting.key))
    if raw is not None:
        return Found(setting, raw, "file", config.where(setting.section, setting.key))
    if setting.file_capable:
        named = config.values.get((setting.section, setting.file_key))
        if named is not None:
            where = config.where(setting.section, setting.file_key)
            return Found(setting, _read_secret(where, named), "file-file", f"{where} ({named})")
    return None
