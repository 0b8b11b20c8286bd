"""``einvoice ...`` commands of handoff/archive: wired into einvoice/cli.py with ``add_parser(commands)``."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser | None:
    return None
