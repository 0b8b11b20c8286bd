"""``einvoice config check|show``: validate the settings (environment + optional TOML file) and explain them.

``einvoice config check [--config PATH]``: one line per setting, OK / WARNING / ERROR with what is wrong
and how to fix it; exit code 0 without errors, 1 with errors (`einvoice.config.check`).
``einvoice config show [--config PATH] [--format table|env|toml]``: the effective values and their
source; ``toml`` prints the complete commented example file instead (`einvoice.config.show`).
Secrets are never printed.
"""

from __future__ import annotations

import argparse
import sys


def _check(args) -> int:
    from .check import exit_code, render, run

    lines = run(args.config_path)
    sys.stdout.write(render(lines))
    return exit_code(lines)


def _show(args) -> int:
    from .check import gather
    from .show import render_env, render_example, render_table
    from .source import current, using_file

    if args.format == "toml":
        sys.stdout.write(render_example())
        return 0
    with using_file(args.config_path):
        ctx = gather(current())
    sys.stdout.write(render_env(ctx) if args.format == "env" else render_table(ctx))
    for problem in ctx.config.problems:
        print(f"einvoice: configuration file {ctx.config.path}: {problem}", file=sys.stderr)
    return 1 if ctx.config.problems else 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    config = subparsers.add_parser("config", help="the settings: check and explain them")
    commands = config.add_subparsers(dest="config_command", required=True)
    check = commands.add_parser("check", help="validate every setting (database, folders, mail, keys …) and explain")
    show = commands.add_parser("show", help="the effective settings and where each comes from (secrets hidden)")
    show.add_argument("--format", choices=("table", "env", "toml"), default="table",
                      help="table (default), env (EINVOICE_…= lines) or toml (the complete commented example file)")
    for command, func in ((check, _check), (show, _show)):
        command.add_argument("--config", dest="config_path", metavar="PATH",
                             help="settings file (default: $EINVOICE_CONFIG, else /etc/einvoice/einvoice.toml)")
        command.set_defaults(func=func)
    return config
