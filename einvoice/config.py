"""Process-wide settings read from the environment (a full settings object comes with deployment)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

MB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    max_xml_bytes: int = 20 * MB
    max_pdf_bytes: int = 50 * MB

    @property
    def rule_packs_dir(self) -> Path:
        return self.data_dir / "rule-packs"


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number of bytes, got {raw!r}") from exc


def load_settings() -> Settings:
    data_dir = os.environ.get("EINVOICE_DATA_DIR") or platformdirs.user_data_dir("einvoice")
    return Settings(
        data_dir=Path(data_dir),
        max_xml_bytes=_int_env("EINVOICE_MAX_XML_BYTES", 20 * MB),
        max_pdf_bytes=_int_env("EINVOICE_MAX_PDF_BYTES", 50 * MB),
    )
