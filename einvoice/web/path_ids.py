"""Integer path parameters (item, batch, run, job ids) outside the database's 64-bit range answer 404.

Before, ``/rechnungen/99999999999999999999`` reached the database: SQLite raised ``OverflowError``
("Python int too large to convert to SQLite INTEGER"), PostgreSQL "integer out of range", and the
client got a 500 with an error in the log — for a number that cannot name any row. `ids_in_range` is an
app-wide dependency (`create_app`): a path parameter the route declares ``int`` whose value lies outside
−2⁶³ … 2⁶³−1 is "not found" before any route code runs.
"""

from __future__ import annotations

import typing
from functools import lru_cache

from fastapi import Request
from starlette.exceptions import HTTPException

BIGINT = 2**63 - 1


@lru_cache(maxsize=None)
def _int_params(endpoint) -> tuple[str, ...]:
    try:
        hints = typing.get_type_hints(endpoint)
    except Exception:  # no endpoint function (e.g. the schema route) or unresolvable hints
        return ()
    return tuple(name for name, hint in hints.items() if hint is int)


async def ids_in_range(request: Request) -> None:
    for name in _int_params(request.scope.get("endpoint")):
        value = str(request.path_params.get(name, ""))
        digits = value[1:] if value[:1] in ("+", "-") else value
        if digits.isdigit() and (len(digits.lstrip("0")) > 19 or abs(int(value)) > BIGINT):
            raise HTTPException(404)
