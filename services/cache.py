"""The last good answer per student, served as STALE while a service fails.

In-process and bounded (least recently used first out): it only bridges outages of a
service for the students this process served recently. Sharing dashboards between
processes is the job of the dashboard cache (Redis), one level up, not of this one.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class LastGood(Generic[T]):
    value: T
    fetched_at: datetime


class LastGoodCache(Generic[T]):
    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[str, LastGood[T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> LastGood[T] | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: str, value: T, fetched_at: datetime) -> None:
        self._entries[key] = LastGood(value, fetched_at)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
