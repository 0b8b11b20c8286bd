"""Package attributes loaded on first use (PEP 562): keeps `einvoice validate` from importing the
database layer, the job queue or FastAPI just because the command line lists their sub-commands."""

from __future__ import annotations

from importlib import import_module


def lazy_exports(package: str, table: dict[str, str]):
    """A module ``__getattr__`` for `package` that imports ``name`` from ``table[name]`` (a relative
    module such as ``".queue"``) on first access and keeps it in the package's namespace."""

    def __getattr__(name: str):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(table[name], package), name)
        setattr(import_module(package), name, value)
        return value

    return __getattr__
