"""A per-user cache of the inbox (`tasks_for`), so ``/aufgaben`` does not re-check every open step on
every request: with thousands of open steps per user the full check costs about 0.25 ms per step.

An entry is used only while nothing happened since it was computed: its key holds the newest audit
event id (every decision, routing step and assignment writes one), the newest substitution id, the
user's roles, limit and units, and the day. Anything else (an edited substitution, a changed master
data row without an audit event, a deadline recomputed by the scheduler) shows at the latest after
``TTL_SECONDS`` (30). Each process keeps at most ``MAX_USERS`` entries (least recently used go first).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...routing.workflow import Task, tasks_for
from ...store.masterdata_models import Substitution, User, UserUnit
from ...store.models import AuditEvent

TTL_SECONDS = 30.0
MAX_USERS = 256

_entries: OrderedDict[tuple[str, int], tuple[float, tuple, list[Task]]] = OrderedDict()
_lock = threading.Lock()
_computing: dict[tuple[str, int], threading.Lock] = {}


def _marker(session: Session, user: User, on: date) -> tuple:
    units = tuple(sorted(session.scalars(select(UserUnit.unit_id).where(UserUnit.user_id == user.id))))
    return (on, session.scalar(select(func.max(AuditEvent.id))), session.scalar(select(func.max(Substitution.id))),
            tuple(user.roles or ()), str(user.approval_limit), user.active, units)


def _fresh(key: tuple, marker: tuple) -> list[Task] | None:
    with _lock:
        entry = _entries.get(key)
        if entry is not None and entry[1] == marker and time.monotonic() - entry[0] < TTL_SECONDS:
            _entries.move_to_end(key)
            return entry[2]
    return None


def cached_tasks(session: Session, user: User, on: date) -> list[Task]:
    key = (str(session.get_bind().url), user.id)
    marker = _marker(session, user, on)
    tasks = _fresh(key, marker)
    if tasks is not None:
        return tasks
    with _lock:
        computing = _computing.setdefault(key, threading.Lock())
    with computing:  # one computation per user at a time: concurrent requests wait for it
        tasks = _fresh(key, marker)
        if tasks is None:
            started = time.monotonic()
            tasks = tasks_for(session, user, on)
            with _lock:
                _entries[key] = (started, marker, tasks)
                _entries.move_to_end(key)
                while len(_entries) > MAX_USERS:
                    _entries.popitem(last=False)
    return tasks


def clear() -> None:
    with _lock:
        _entries.clear()
        _computing.clear()
