"""What an operation costs in SQL statements, as the server counts them in its debug metrics
(`extensions.metrics.sqlStatements`, on when Settings.debug_metrics is): for the tests that prove
a list costs the same few statements however long it is."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from config import Settings
from tests.conftest import http_client_for


def metered_client(settings: Settings) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """An in-process app with debug metrics on, and an HTTP client talking to it."""
    return http_client_for(settings.model_copy(update={"debug_metrics": True}))


async def statements(
    http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any] | None = None
) -> int:
    """The statements one operation cost (through a `metered_client`), asserting it had no errors."""
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert "errors" not in body, body["errors"]
    count: int = body["extensions"]["metrics"]["sqlStatements"]
    return count
