"""``einvoice audit verify|export``: the hash-chained audit trail, checked offline and exported per invoice."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    audit = subparsers.add_parser("audit", help="the audit trail: export per invoice, verify offline")
    audit.add_subparsers(dest="audit_command", required=True)
    return audit
