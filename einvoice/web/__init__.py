"""HTTP intake: the supplier upload page, the submission and read API, the status page (FastAPI).

``create_app(settings=None, db=None)`` builds the application; ``einvoice serve`` (`cli`) runs it
with uvicorn and an in-process worker.
"""

# Loaded on first use (PEP 562), so `einvoice validate` does not import FastAPI.
_LAZY = {
    "create_app": ".app",
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["create_app"]
