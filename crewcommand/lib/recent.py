"""Rows a public page looked up, kept in this process for at most ``PUBLIC_ROW_SECONDS``.

The booking page (a company by its slug) and the review landing page (a request by its token's
hash) ran one database query per answer: with the pool's check-out and return, about half the
CPU of an answer whose page comes from the page cache. These lookups are now remembered by each
process for a second (``PUBLIC_ROW_SECONDS``, 0 turns it off; off in tests unless a test turns
it on), so under load a process asks the database about a slug or a token once a second.

Why a short expiry and not a generation number bumped on save: the page cache's rule is that
any change, by any code path, shows (the admin, a queryset ``update()``, a data migration, a
shell); a bump on save would miss every path that does not call it, and a missed bump would be
stale for good. An expiry is always right within its bound, needs nothing from the code that
writes, and a generation check would itself cost a Redis round trip per answer. The price: a
rename, a colour, a page turned off or a review request deleted shows up to one second late on
these two GET pages. Writes never use a remembered row (the booking POST, the review click and
feedback pages look the row up afresh).

Only found rows are kept: an unknown slug or token is looked up every time (so every miss still
costs the same, and random misses cannot fill the memory). Keys are what the caller passes; a
secret is passed as its hash, never raw. The values are shared by every request the process
answers: callers must not change them.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings

# Tests move time forward by replacing this.
clock: Callable[[], float] = time.monotonic

_instances: weakref.WeakSet[Recent] = weakref.WeakSet()


class Recent:
    """Up to ``size`` found rows by key, each good for ``PUBLIC_ROW_SECONDS`` from its lookup."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self.entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self.lock = threading.Lock()
        _instances.add(self)

    def get(self, key: Hashable, lookup: Callable[[], Any]) -> Any:
        """The value kept for ``key`` if it is recent enough, else ``lookup()`` (kept unless
        it is ``None``)."""
        seconds = settings.PUBLIC_ROW_SECONDS
        if seconds <= 0:
            return lookup()
        now = clock()
        with self.lock:
            entry = self.entries.get(key)
        if entry is not None and now - entry[0] < seconds:
            return entry[1]
        value = lookup()
        with self.lock:
            if value is None:
                self.entries.pop(key, None)
            else:
                self.entries[key] = (now, value)
                self.entries.move_to_end(key)
                while len(self.entries) > self.size:
                    self.entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


def forget_all() -> None:
    """Empty every process-local row cache (tests)."""
    for instance in list(_instances):
        instance.clear()
