"""Who asks, and what each must get: the principals of the authorization matrix, `Rule` (a route's
policy and its probe) and `expected` (tests/websec_routes.py has the rules of every route).

Policies: ``public``; ``status`` (the supplier's status link: its token is the only key); ``login-form``;
``session-csrf`` (login/logout: any session with its CSRF token); ``off`` (OIDC not configured: 404);
``ui`` (session; ``roles``; ``scoped``: the invoice must belong to the user's units, else 404 — central
roles see all; ``decide``: only an approver of the invoice's unit may decide its open step, 403 for the
others who see it); ``api-token`` (bearer token; the acting user does not matter: the token holder is a
trusted integration that reads everything); ``api-user`` (token and ``X-Einvoice-User`` with one of
``roles``; ``decide`` as above).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from websec_data import ROLE_USERS, TOKEN

CENTRAL = ("kaemmerei", "rechnungseingang", "admin")
MAKERS, VIEWERS, OFFICE = ("kaemmerei", "admin"), ("kaemmerei", "kasse", "admin"), ("rechnungseingang", "admin")


@dataclass(frozen=True)
class Principal:
    name: str
    user: str | None = None  # a UI session of this user
    token: str | None = None  # Authorization: Bearer
    acting: str | None = None  # X-Einvoice-User
    status_link: bool = False  # knows the status link of the invoice

    def headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if self.acting:
            headers["X-Einvoice-User"] = self.acting
        return headers


ANONYMOUS = Principal("anonymous")
PUBLIC_PRINCIPALS = (ANONYMOUS, Principal("supplier", status_link=True), Principal("bearer-token", token=TOKEN),
                     Principal("session-admin-a", user="admin-a"), Principal("session-approver-b", user="approver-b"))
UI_PRINCIPALS = (ANONYMOUS, Principal("bearer-token", token=TOKEN),
                 *(Principal(f"session-{name}", user=name) for name in ROLE_USERS))
API_READ_PRINCIPALS = (ANONYMOUS, Principal("wrong-token", token="falsch-" + TOKEN),
                       Principal("session-admin-a", user="admin-a"), Principal("token", token=TOKEN),
                       Principal("token+approver-b", token=TOKEN, acting="approver-b"))
API_USER_PRINCIPALS = (*API_READ_PRINCIPALS[:4], Principal("token+unknown-user", token=TOKEN, acting="niemand"),
                       Principal("token+inactive-user", token=TOKEN, acting="g.alt"),
                       *(Principal(f"token+{name}", token=TOKEN, acting=name) for name in
                         ("approver-a", "approver-b", "kasse-a", "kaemmerei-a", "rechnungseingang-a", "admin-a")))


@dataclass(frozen=True)
class Rule:
    policy: str
    ok: int = 200  # the status of the allowed probe
    roles: tuple[str, ...] = ()  # ui / api-user: one of these roles (empty: any user)
    scoped: bool = False  # ui: the invoice must be visible to the user (foreign unit: 404)
    decide: bool = False  # only an approver of the invoice's unit passes
    probe: Callable = field(default=lambda w, p, side: {})  # (world, principal, side) -> path params + request kwargs
    changes: bool = False  # the allowed probe really changes something (harmless)

    @property
    def principals(self) -> tuple[Principal, ...]:
        if self.policy in ("public", "status"):
            return PUBLIC_PRINCIPALS
        if self.policy == "api-token":
            return API_READ_PRINCIPALS
        if self.policy == "api-user":
            return API_USER_PRINCIPALS
        return UI_PRINCIPALS

    @property
    def sides(self) -> tuple[str, ...]:
        return ("A", "B") if self.scoped else ("A",)


def expected(rule: Rule, who: Principal, side: str) -> int | str:
    """The status ``who`` must get (or ``"login"``: 303 to the login page)."""
    role, unit = ROLE_USERS.get(who.user or who.acting or "", (None, None))
    if rule.policy == "public":
        return rule.ok
    if rule.policy == "status":
        return 200 if who.status_link else 404
    if rule.policy == "off":
        return 404
    if rule.policy == "login-form":
        return 303 if who.user else 200
    if rule.policy == "session-csrf":
        return rule.ok if who.user else 403
    if rule.policy == "ui":
        if not who.user:
            return "login"
        if rule.roles and role not in rule.roles:
            return 403
        if rule.scoped and role not in CENTRAL and unit != side:
            return 404
        if rule.decide and not (role == "approver" and unit == side):
            return 403
        return rule.ok
    if who.token != TOKEN:  # api-token, api-user
        return 401
    if rule.policy == "api-token":
        return rule.ok
    if not who.acting:
        return 401
    if role is None:  # unknown or inactive user
        return 403
    if rule.roles and role not in rule.roles:
        return 403
    if rule.decide and not (role == "approver" and unit == side):
        return 403
    return rule.ok
