"""The deadline of the request being served, carried from caller to engine and on to nested calls.

A caller's :class:`~nautilus.runtime.client.EngineClient` call fixes one deadline; each transport gets only
the time that remains, and the request frame carries the remaining budget to the engine host, which sets it
here (a context variable) while the handler runs. Nested engine calls made by that handler inherit it, and
long handlers may call :func:`check` between steps to stop work nobody waits for any more.
"""

from __future__ import annotations

import contextvars
import time

from nautilus.core.errors import DeadlineExceeded

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("nautilus_deadline", default=None)


# current() -> float | None: the ``time.monotonic()`` instant by which the current request must be answered (None:
# no deadline). The context variable's own method: every engine call reads it.
current = _DEADLINE.get


def remaining() -> float | None:
    """Seconds left before the current deadline (None: no deadline; may be negative)."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()


def check(what: str = "the request") -> None:
    """Raise :class:`DeadlineExceeded` when the current deadline has passed."""
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() >= deadline:
        raise DeadlineExceeded(f"{what} ran past its deadline; stopped")


# The engine host serves each request in a connection thread whose context holds no deadline: it sets the
# request's own with ``token = enter(deadline)`` and restores the context with ``leave(token)`` (the context
# variable's own methods, so a request costs no Python frame for them).
enter = _DEADLINE.set
leave = _DEADLINE.reset


class scope:  # noqa: N801 - used as a function: ``with scope(deadline):``
    """Run the block under ``deadline`` (the earlier of it and any enclosing one).

    A class rather than a generator: the engine host enters one per request, and this costs a fraction of a
    ``contextmanager``'s generator round trip.
    """

    __slots__ = ("_deadline", "_token")

    def __init__(self, deadline: float | None) -> None:
        self._deadline = deadline
        self._token: contextvars.Token[float | None] | None = None

    def __enter__(self) -> None:
        deadline = self._deadline
        if deadline is None:
            return
        outer = _DEADLINE.get()
        if outer is None or deadline < outer:
            self._token = _DEADLINE.set(deadline)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _DEADLINE.reset(self._token)
            self._token = None
