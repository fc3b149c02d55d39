"""A thread-safe map that forgets its least recently used entries past a bound.

The git adapter keeps what it read or wrote (listings, trees, objects) from one event to the
next, by ids that name their content: a kept value is never stale, only bounded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Kept(Generic[K, V]):
    """At most `limit` in total of `size(value)` (1 per entry by default), newest kept."""

    def __init__(self, limit: int, size: Callable[[V], int] = lambda _: 1) -> None:
        self.limit = limit
        self._size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> V:
        """Keep `value` (unless it alone is over the limit); return it."""
        size = self._size(value)
        if size > self.limit:
            return value
        with self._lock:
            old = self._values.pop(key, None)
            if old is not None:
                self._total -= self._size(old)
            self._values[key] = value
            self._total += size
            while self._total > self.limit:
                _, dropped = self._values.popitem(last=False)
                self._total -= self._size(dropped)
        return value

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._values

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    @property
    def total(self) -> int:
        """The sum of the kept values' sizes."""
        with self._lock:
            return self._total
