"""Validate many files in N worker processes; each worker builds its own engine (Saxon is per process)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator

from .engine import ValidationEngine
from .result import ValidationResult

_engine: ValidationEngine | None = None
_pack: str | None = None


def _init(pack: str | None) -> None:
    global _engine, _pack
    _engine = ValidationEngine()
    _pack = pack


def _validate(path: str) -> ValidationResult:
    assert _engine is not None
    return _engine.validate_file(Path(path), pack=_pack)


def validate_paths(paths: Iterable[Path], jobs: int = 1, pack: str | None = None,
                   engine: ValidationEngine | None = None) -> Iterator[ValidationResult]:
    """Results in input order. jobs=1 validates in this process (with `engine` if given)."""
    paths = [str(p) for p in paths]
    if jobs <= 1:
        engine = engine or ValidationEngine()
        for path in paths:
            yield engine.validate_file(Path(path), pack=pack)
        return
    # 'spawn': a forked child would inherit a started Saxon runtime, which is not fork-safe
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init, initargs=(pack,)) as pool:
        chunk = max(1, min(16, len(paths) // (jobs * 4) or 1))
        yield from pool.map(_validate, paths, chunksize=chunk)
