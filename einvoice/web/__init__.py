"""HTTP intake: the supplier upload page, the submission and read API, the status page (FastAPI).

``create_app(settings=None, db=None)`` builds the application; ``einvoice serve`` (`cli`) runs it
with uvicorn and an in-process worker.
"""

from ..lazy import lazy_exports

# Loaded on first use (PEP 562), so `einvoice validate` does not import FastAPI.
_LAZY = {
    "create_app": ".app",
}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = ["create_app"]
