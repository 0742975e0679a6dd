"""Fixtures the resolver tests share, beside tests/conftest.py's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from config import Settings
from tests.statements import metered_client


@pytest.fixture
async def metered(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with debug metrics on, for `tests.statements.statements`."""
    async with metered_client(settings) as client:
        yield client
