"""Unit scoping of the invoice pages in every state: matched, in approval, approved (here already
exported), rejected — in unit A and in unit B — and not yet assigned (the manual queue). A unit-scoped
user (approver, Kasse) of the other unit gets 404 for the page, the original and the readable view, the
same page as for a number that does not exist; the central roles (Rechnungseingang, Kämmerei, admin) see
every invoice; nobody but the central roles sees an unassigned one. World: tests/websec_data.py."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("websec_data", "websec_access")
from websec_access import UI_PRINCIPALS, Rule, expected  # noqa: E402
from websec_data import STATES, UNITS  # noqa: E402

pytest_plugins = ["pg", "websec_data"]


STATE_ITEMS = [f"{state}-{side}" for state in STATES for side in UNITS] + ["queue"]


@pytest.mark.parametrize("who", [p for p in UI_PRINCIPALS if p.user], ids=lambda p: p.name)
@pytest.mark.parametrize("name", STATE_ITEMS)
def test_invoice_of_a_foreign_unit_is_not_found_in_every_state(sec_world, name, who):
    side = name.rsplit("-", 1)[1] if "-" in name else None
    want = expected(Rule("ui", scoped=True), who, side or "-")
    item_id = sec_world.items[name]
    for path in (f"/rechnungen/{item_id}", f"/rechnungen/{item_id}/original", f"/rechnungen/{item_id}/ansicht"):
        answer = sec_world.request("GET", path, user=who.user)
        assert answer.status_code == want, (path, answer.status_code)
        if want == 404:  # the same page as for a number that does not exist: it reveals nothing
            unknown = sec_world.request("GET", path.replace(f"/{item_id}", "/999999"), user=who.user)
            assert "Nicht gefunden" in answer.text and answer.text == unknown.text


@pytest.mark.parametrize(("user", "own", "foreign"), [("approver-a", "A", "B"), ("approver-b", "B", "A")])
def test_task_lists_show_only_the_own_units_invoices(sec_world, user, own, foreign):
    from websec_data import AUTH

    own_id, foreign_id = sec_world.items[own], sec_world.items[foreign]
    tasks = sec_world.request("GET", "/api/v1/tasks", headers={**AUTH, "X-Einvoice-User": user}).json()["tasks"]
    assert own_id in {task["item_id"] for task in tasks} and foreign_id not in {task["item_id"] for task in tasks}
    page = sec_world.request("GET", "/aufgaben", user=user).text
    assert f'href="/rechnungen/{own_id}"' in page and f'href="/rechnungen/{foreign_id}"' not in page
