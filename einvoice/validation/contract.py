"""The contract every validation step fulfils (after KoSIT's check steps and paperless-ngx's plugins).

A step reads what earlier steps put into the ValidationState and adds its own part; it never calls
another step and never reaches back. The engine runs the steps in order:

    able_to_run(state) -> bool   skip the step when False (default: the chain has not stopped)
    setup(state)                 acquire what the step needs (default: nothing)
    run(state)                   do the work; record problems as findings, call state.stop(reason)
                                 when later steps must not run
    cleanup(state)               always called after run, also when run raised (default: nothing)

An exception escaping run() is a bug or a broken artefact: the engine records it as an
EINVOICE-INTERNAL error finding and stops the chain, so a bad input never becomes a traceback.
"""

from __future__ import annotations

from .state import ValidationState


class Step:
    name: str = "step"

    def able_to_run(self, state: ValidationState) -> bool:
        return state.stopped is None

    def setup(self, state: ValidationState) -> None:
        return None

    def run(self, state: ValidationState) -> None:
        raise NotImplementedError

    def cleanup(self, state: ValidationState) -> None:
        return None
