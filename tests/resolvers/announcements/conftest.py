"""Fixtures of the announcement tests: e-mail pointed at a real local SMTP sink, SMS configured
(at a port nobody listens on: the texts wait, retried, and never reach anyone), and a school.

With e-mail and SMS configured, the app's outbox loop takes the SQLite write lock every second;
a test database's first connection (its PRAGMAs) can then find it locked. So the apps here start
after the school is made, which opens that first connection."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from config import Settings
from context import AppState, build_state, close_state
from tests.conftest import http_client_for
from tests.factories import Factory, SchoolData
from tests.smtp_sink import SmtpSink
from tests.statements import metered_client


@pytest.fixture
def settings(settings: Settings, sink: SmtpSink) -> Settings:
    sms = {
        "sms_api_url": "http://127.0.0.1:9",
        "sms_account_sid": "AC-test",
        "sms_auth_token": "sms-token",
        "sms_from": "+15550000000",
    }
    return settings.model_copy(update=sink.settings() | sms)


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


@pytest.fixture
async def state(settings: Settings) -> AsyncIterator[AppState]:
    """An app's singletons of the test's own, its bus connected (as a worker process has)."""
    app_state = build_state(settings)
    await app_state.bus.connect()
    yield app_state
    await close_state(app_state)


@pytest.fixture
async def http(settings: Settings, north: SchoolData) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client_for(settings) as client:
        yield client


@pytest.fixture
async def metered(settings: Settings, north: SchoolData) -> AsyncIterator[httpx.AsyncClient]:
    async with metered_client(settings) as client:
        yield client
