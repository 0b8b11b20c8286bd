"""``einvoice config check``: load every setting, validate it and explain it, one line per setting.

Each line is ``OK``, ``WARNING`` or ``ERROR`` with the setting's environment name, its value (secrets as
"set (hidden)", passwords in URLs as ``***``), where the value came from (env / file line / default) and
one sentence saying what is wrong and how to fix it. First the type and range of every value (from
`Setting.parse_text` / `parse_toml`), then the checks that look at the machine and at combinations
(`einvoice.config.probes`: database reachable and at the newest migration, folders writable, rule files
present and parsing, archive target usable, mail settings complete, keys long enough, base URL https,
debtor IBAN valid …). Problems of the file itself (unknown key, wrong type, not TOML) are lines of
their own. Exit code: 0 when there are no errors (warnings allowed), 1 otherwise.

Nothing is changed by a check, with one exception: to prove a folder writable a temporary file is
created in it and removed again. No mail server or identity provider is contacted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalogue import SETTINGS, Setting
from .source import ConfigError, ConfigFile, Found, current, lookup, using_file

LEVELS = ("OK", "WARNING", "ERROR")


@dataclass
class Line:
    level: str
    name: str  # EINVOICE_… or a label ("config file", "rule packs")
    shown: str  # the value as shown
    source: str  # env / env (file) / file line N / default
    notes: list[str] = field(default_factory=list)


@dataclass
class Context:
    """What the probes see: the typed values (defaults included) and where each came from."""

    config: ConfigFile
    values: dict[str, Any] = field(default_factory=dict)
    found: dict[str, Found] = field(default_factory=dict)  # only settings that are set
    lines: dict[str, Line] = field(default_factory=dict)
    extra: list[Line] = field(default_factory=list)

    def is_set(self, name: str) -> bool:
        return name in self.found

    def value(self, name: str) -> Any:
        return self.values.get(name)

    def verdict(self, name: str, level: str, note: str) -> None:
        """Add a note to a setting's line; the line's level is the worst of its verdicts."""
        line = self.lines[name]
        if LEVELS.index(level) > LEVELS.index(line.level):
            line.level = level
        line.notes.append(note)

    def add(self, level: str, label: str, note: str, shown: str = "") -> None:
        self.extra.append(Line(level, label, shown, "", [note]))

    def all_lines(self) -> list[Line]:
        return [*(line for line in self.extra if line.name == "config file"), *self.lines.values(),
                *(line for line in self.extra if line.name != "config file")]


def describe_source(found: Found | None, config: ConfigFile) -> str:
    """default / env / env EINVOICE_X_FILE / file line N / file line N (x_file)."""
    if found is None:
        return "default"
    setting = found.setting
    if found.origin == "env":
        return "env"
    if found.origin == "env-file":
        return f"env {setting.file_env}"
    key = setting.file_key if found.origin == "file-file" else setting.key
    line = config.lines.get((setting.section, key))
    return "file" + (f" line {line}" if line else "") + (f", {key}" if found.origin == "file-file" else "")


def gather(config: ConfigFile) -> Context:
    ctx = Context(config)
    if config.path is None:
        ctx.add("OK", "config file", "none: environment variables and defaults only "
                "(/etc/einvoice/einvoice.toml does not exist, EINVOICE_CONFIG not set)")
    elif not config.problems:
        ctx.add("OK", "config file", f"{config.path}: {len(config.values)} keys, all known")
    for problem in config.problems:
        if problem not in config.bad_values.values():  # those are shown on the setting's line
            ctx.add("ERROR", "config file", f"{config.path}: {problem}")
    for setting in SETTINGS:
        _load(ctx, setting)
        bad = config.bad_values.get((setting.section, setting.key))
        if bad:
            ctx.verdict(setting.env, "ERROR", f"ignored, wrong in {config.path}: {bad}")
    return ctx


def _load(ctx: Context, setting: Setting) -> None:
    line = ctx.lines[setting.env] = Line("OK", setting.env, "", "default")
    try:
        found = lookup(setting.env, ctx.config)
    except ConfigError as exc:  # a secret's file cannot be read
        line.level, line.shown, line.source = "ERROR", "?", "file"
        line.notes.append(str(exc))
        ctx.values[setting.env] = None
        return
    line.source = describe_source(found, ctx.config)
    if found is None:
        default = ctx.values[setting.env] = setting.default_value()
        line.shown = setting.describe_default() if default in (None, (), "") else setting.display(default)
        return
    ctx.found[setting.env] = found
    try:
        ctx.values[setting.env] = found.parsed()
    except ConfigError as exc:
        ctx.values[setting.env] = None
        line.shown = setting.display(found.text)
        ctx.verdict(setting.env, "ERROR", str(exc))
        return
    line.shown = setting.display(ctx.values[setting.env])
    if setting.file_capable and _both_given(ctx.config, setting):
        ctx.verdict(setting.env, "WARNING", f"given directly and as {setting.file_env}/{setting.file_key}: "
                    f"the direct value wins; remove one of them")


def _both_given(config: ConfigFile, setting: Setting) -> bool:
    import os

    direct = bool(os.environ.get(setting.env, "").strip()) or (setting.section, setting.key) in config.values
    via_file = (bool(os.environ.get(setting.file_env, "").strip())
                or (setting.section, setting.file_key) in config.values)
    return direct and via_file


def run(path: str | Path | None = None) -> list[Line]:
    """Every line of the check (file given: that file instead of EINVOICE_CONFIG / the default)."""
    from . import probes

    with using_file(path):
        ctx = gather(current())
        for probe in probes.PROBES:
            try:
                probe(ctx)
            except Exception as exc:  # a probe must never hide the other lines
                ctx.add("ERROR", probe.__name__.removeprefix("probe_"), f"check failed: {type(exc).__name__}: {exc}")
    return ctx.all_lines()


def render(lines: list[Line]) -> str:
    width = max(len(line.name) for line in lines)
    out = []
    for line in lines:
        where = f" ({line.source})" if line.source else ""
        value = f"{line.shown}{where}" if line.shown else where.strip(" ()")
        note = "; ".join(line.notes)
        out.append(f"{line.level:<7} {line.name:<{width}}  {value}" + (f" — {note}" if note else ""))
    counts = {level: sum(line.level == level for line in lines) for level in LEVELS}
    out.append(f"\n{counts['OK']} OK, {counts['WARNING']} warning(s), {counts['ERROR']} error(s)"
               + (": fix the errors, then run `einvoice config check` again" if counts["ERROR"] else ""))
    return "\n".join(out) + "\n"


def exit_code(lines: list[Line]) -> int:
    return 1 if any(line.level == "ERROR" for line in lines) else 0
