"""What a transport reports when a call did not come back: whether the request may have reached the engine.

The client decides from it whether a call may go on to the next transport (:mod:`nautilus.runtime.client`).
"""

from __future__ import annotations


class NotDelivered(Exception):
    """The request never left this process (connect failed, circuit open)."""


class MaybeDelivered(Exception):
    """The connection failed after the request was sent (the engine process is gone or lost it)."""


class TimedOut(MaybeDelivered):
    """No reply before the deadline: the engine may still be working on it, so it is never run again elsewhere."""
