from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.cache import LastGood, LastGoodCache

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_keeps_values_with_when_they_were_fetched() -> None:
    cache: LastGoodCache[str | None] = LastGoodCache(10)
    cache.put("NS-1", "skills", AT)
    cache.put("NS-2", None, AT)  # "the service had nothing" is a good answer too
    assert cache.get("NS-1") == LastGood("skills", AT)
    assert cache.get("NS-2") == LastGood(None, AT)
    assert cache.get("NS-3") is None


def test_evicts_the_least_recently_used_beyond_its_bound() -> None:
    cache: LastGoodCache[int] = LastGoodCache(2)
    cache.put("a", 1, AT)
    cache.put("b", 2, AT)
    assert cache.get("a") is not None  # "a" is now more recent than "b"
    cache.put("c", 3, AT)
    assert len(cache) == 2
    assert cache.get("b") is None
    assert cache.get("a") == LastGood(1, AT)
    assert cache.get("c") == LastGood(3, AT)


def test_put_replaces_and_refreshes() -> None:
    cache: LastGoodCache[int] = LastGoodCache(2)
    cache.put("a", 1, AT)
    cache.put("b", 2, AT)
    cache.put("a", 10, AT)
    cache.put("c", 3, AT)
    assert cache.get("a") == LastGood(10, AT)
    assert cache.get("b") is None


def test_rejects_an_empty_bound() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        LastGoodCache[int](0)
