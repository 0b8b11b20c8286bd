"""Intake: receive raw inputs from every channel, keep them, and process them (validate, parse, dedupe).

`receive` / `receive_message` are the service functions the channels call; `states.transition`
is the only way an item's state changes; `process` is the job that takes an item to ``parsed``.
"""

# Loaded on first use (PEP 562), so `einvoice validate` does not import the intake services.
_LAZY = {
    "ALLOWED": ".states",
    "IllegalTransition": ".states",
    "can_transition": ".states",
    "receive": ".receive",
    "receive_message": ".receive",
    "transition": ".states",
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ALLOWED", "IllegalTransition", "can_transition", "receive", "receive_message", "transition"]
