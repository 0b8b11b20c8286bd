"""Intake: receive raw inputs from every channel, keep them, and process them (validate, parse, dedupe).

`receive` / `receive_message` are the service functions the channels call; `states.transition`
is the only way an item's state changes; `process` is the job that takes an item to ``parsed``.
"""

from .receive import receive, receive_message
from .states import ALLOWED, IllegalTransition, can_transition, transition

__all__ = ["ALLOWED", "IllegalTransition", "can_transition", "receive", "receive_message", "transition"]
