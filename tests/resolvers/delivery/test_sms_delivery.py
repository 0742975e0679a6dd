"""SMS deliveries through the simulator (services/sms_simulator.py) over real HTTP: sent with the
provider's message id, retried on 429/500, failed on 400, and moved to DELIVERED or FAILED by the
provider's signed status callback to the app on a real port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models.base import utcnow
from models.enums import CommunicationChannel, DeliveryStatus
from resolvers.delivery.outbox import deliver_due
from resolvers.delivery.sms import MAX_LENGTH, sms_body
from resolvers.ids import encode_id
from services.sms_simulator import DEFAULT_FROM, running_sms_simulator, sms_env
from tests.factories import SchoolData
from tests.resolvers.delivery.conftest import app_state, queue, row, rows, serving_app, untouched

SMS = CommunicationChannel.SMS
FRONTEND = "https://app.school.test"


@pytest.fixture
async def provider() -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    async with running_sms_simulator() as base_url, httpx.AsyncClient(base_url=base_url) as admin:
        yield base_url, admin


@pytest.fixture
def sms_settings(settings: Settings, provider: tuple[str, httpx.AsyncClient]) -> Settings:
    fields = {name.lower(): value for name, value in sms_env(provider[0]).items()}
    return settings.model_copy(update=fields | {"frontend_url": FRONTEND})


async def sent_messages(admin: httpx.AsyncClient) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await admin.get("/_messages")).json()["messages"]
    return listed


async def fault(admin: httpx.AsyncClient, to: str, status: int) -> None:
    (await admin.post("/_faults", json={"to": to, "status": status})).raise_for_status()


async def test_an_sms_is_the_title_and_a_link_and_records_the_providers_id(
    session_factory: async_sessionmaker[AsyncSession],
    sms_settings: Settings,
    north: SchoolData,
    provider: tuple[str, httpx.AsyncClient],
) -> None:
    _, admin = provider
    made = await queue(session_factory, sms_settings, north, SMS, ["+15550101"])
    long = await queue(session_factory, sms_settings, north, SMS, ["+15550102"], title="Long news " * 20)
    async with app_state(sms_settings) as state:
        assert await deliver_due(state) == 2
    short_message, long_message = await sent_messages(admin)
    link = f"{FRONTEND}/announcements/{encode_id('Communication', made.copy_ids[0])}"
    assert short_message["body"] == f"Field trip on Friday\n{link}"
    assert (short_message["to"], short_message["from"]) == ("+15550101", DEFAULT_FROM)
    assert short_message["status_callback"] is None, "no PUBLIC_URL: nowhere to report to"
    long_link = f"{FRONTEND}/announcements/{encode_id('Communication', long.copy_ids[0])}"
    assert long_message["body"] == f"{'Long news ' * 20}\n{long_link}", "a whole title (200) always fits"
    sent = await rows(session_factory, [*made.delivery_ids, *long.delivery_ids])
    assert [d.provider_message_id for d in sent] == [short_message["sid"], long_message["sid"]]
    for delivery in sent:
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
            DeliveryStatus.SENT,
            1,
            None,
        )
        assert delivery.sent_at is not None


def test_a_body_over_320_characters_shortens_the_title_never_the_link() -> None:
    link = f"https://app.school.test/{'x' * 150}/announcements/Q29tbXVuaWNhdGlvbjox"
    body = sms_body("Long news " * 20, link)
    assert len(body) == MAX_LENGTH
    assert body.startswith("Long news Long")
    assert body.endswith(f"...\n{link}")
    assert sms_body("Short", link) == f"Short\n{link}"
    assert len(sms_body("Short", "https://x.test/" + "y" * 400)) == MAX_LENGTH


async def test_rate_limits_and_provider_errors_are_retried_a_refused_number_fails(
    session_factory: async_sessionmaker[AsyncSession],
    sms_settings: Settings,
    north: SchoolData,
    provider: tuple[str, httpx.AsyncClient],
) -> None:
    _, admin = provider
    await fault(admin, "+15550429", 429)
    await fault(admin, "+15550500", 500)
    await fault(admin, "+15550400", 400)
    made = await queue(session_factory, sms_settings, north, SMS, ["+15550429", "+15550500", "+15550400"])
    start = utcnow()
    async with app_state(sms_settings) as state:
        assert await deliver_due(state, now=start) == 3
        limited, erred, refused = await rows(session_factory, made.delivery_ids)
        for waiting, status in ((limited, 429), (erred, 500)):
            assert (waiting.status, waiting.attempts) == (DeliveryStatus.QUEUED, 1)
            assert (
                waiting.last_error
                == f"HTTP {status}: {30000 + status} simulated failure for {waiting.address}"
            )
            assert waiting.next_attempt_at == start + timedelta(seconds=30)
        assert (refused.status, refused.attempts, refused.next_attempt_at) == (DeliveryStatus.FAILED, 1, None)
        assert refused.last_error == "HTTP 400: 30400 simulated failure for +15550400"

        await fault(admin, "+15550429", 0)
        assert await deliver_due(state, now=start + timedelta(seconds=30)) == 2
        limited, erred, _ = await rows(session_factory, made.delivery_ids)
        assert (limited.status, limited.attempts) == (DeliveryStatus.SENT, 2)
        assert (erred.status, erred.attempts) == (DeliveryStatus.QUEUED, 2)
        assert erred.next_attempt_at == start + timedelta(seconds=30 + 60)
        assert await deliver_due(state, now=start + timedelta(days=1)) == 1, "only the one still failing"
    assert [m["to"] for m in await sent_messages(admin)] == ["+15550429"]


async def test_without_sms_configured_nothing_is_taken(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings, north: SchoolData
) -> None:
    made = await queue(session_factory, settings, north, SMS, ["+15550101"])
    async with app_state(settings.model_copy(update={"smtp_host": "127.0.0.1"})) as state:
        assert await deliver_due(state) == 0, "e-mail is on, SMS is not"
    assert untouched(await row(session_factory, made.delivery_ids[0]))


async def test_the_providers_status_callbacks_mark_delivery_and_failure(
    session_factory: async_sessionmaker[AsyncSession],
    sms_settings: Settings,
    north: SchoolData,
    provider: tuple[str, httpx.AsyncClient],
) -> None:
    _, admin = provider
    made = await queue(session_factory, sms_settings, north, SMS, ["+15550101", "+15550102"])
    async with serving_app(lambda url: sms_settings.model_copy(update={"public_url": url})) as state:
        assert await deliver_due(state) == 2
        first, second = await sent_messages(admin)
        assert first["status_callback"] == f"{state.settings.public_url}/webhooks/sms/status"

        async def report(sid: str, status: str, **extra: str) -> None:
            answer = await admin.post("/_status", json={"sid": sid, "status": status, **extra})
            assert answer.json() == {"callbackStatus": 200}

        await report(first["sid"], "sent")
        assert (await row(session_factory, made.delivery_ids[0])).status is DeliveryStatus.SENT, (
            "a step on the way"
        )
        await report(first["sid"], "delivered")
        await report(second["sid"], "undelivered", errorCode="30003")
        await report(second["sid"], "delivered")  # a late report about a final status changes nothing
    delivered, undelivered = await rows(session_factory, made.delivery_ids)
    assert delivered.status is DeliveryStatus.DELIVERED
    assert delivered.delivered_at is not None
    assert (undelivered.status, undelivered.last_error) == (
        DeliveryStatus.FAILED,
        "undelivered (error 30003)",
    )
    assert undelivered.delivered_at is None
