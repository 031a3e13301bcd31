"""`Recent`: a dict that keeps only its latest entries, for the memos a batch hits again.

A batch of plans asks for few price windows many times; the window, its horizon and the sums a
solver makes on it are kept in these, the oldest forgotten first, so that a service running for
months does not keep every one it ever made.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Recent(dict[K, V]):
    """A dict of at most `limit` entries: `remember` forgets the oldest to make room."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: K, value: V) -> V:
        if len(self) >= self.limit:
            del self[next(iter(self))]  # the oldest
        self[key] = value
        return value
