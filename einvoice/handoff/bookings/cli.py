"""``einvoice ...`` commands of handoff/bookings: wired into einvoice/cli.py with
``add_parser(export_commands)``: the sub-commands of ``einvoice export``."""

from __future__ import annotations

import argparse


def add_parser(export_commands) -> None:
    """Add sub-commands to ``einvoice export`` (``export_commands`` is its subparsers object)."""
    return None
