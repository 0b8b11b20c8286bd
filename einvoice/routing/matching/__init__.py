"""Cost-centre matching (issue #7): an ordered, admin-editable rule set assigns unit, cost centre and
account to a parsed invoice, with a German explanation and a confidence; no match or a conflict puts
the invoice into the Rechnungseingangsstelle's manual queue.

- `keys`: the match keys of an invoice (BT-10, BT-13, BT-12, BT-19, lines' BT-133, supplier).
- `context`: all master data and rules of a run, loaded once.
- `engine`: the pure decision (`decide`), its rule semantics in the module docstring.
- `rules`: the rule set in the database; seeding from ``rules/routing/matching.toml``.
- `service`: matching stored items, manual assignment, re-runs, the manual queue.
"""

from .context import MatchingContext, load_context
from .engine import Outcome, decide
from .keys import InvoiceKeys, LineKeys, extract_keys
from .rules import Rule, RuleError, load_rules, replace_rules, seed_rules
from .service import (
    InvalidAssignment, WrongState, assign_manually, current_assignment, manual_queue, match_item, match_results,
    preview, rerun,
)

__all__ = ["InvalidAssignment", "InvoiceKeys", "LineKeys", "MatchingContext", "Outcome", "Rule", "RuleError",
           "WrongState", "assign_manually", "current_assignment", "decide", "extract_keys", "load_context",
           "load_rules", "manual_queue", "match_item", "match_results", "preview", "replace_rules", "rerun",
           "seed_rules"]
