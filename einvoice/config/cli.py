"""``einvoice config check|show``: validate the settings (environment + optional TOML file) and explain them."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    config = subparsers.add_parser("config", help="the settings: check and explain them")
    config.add_subparsers(dest="config_command", required=True)
    return config
