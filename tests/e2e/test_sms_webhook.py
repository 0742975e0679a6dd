"""The SMS status webhook of a real `server.py serve` process: only a request signed with
SMS_AUTH_TOKEN over the URL as the provider called it (PUBLIC_URL's when set, else the request's
own) changes a delivery; anything else is 403 and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Delivery
from models.base import utcnow
from models.enums import CommunicationChannel, DeliveryStatus
from services.sms import SIGNATURE_HEADER, signature
from tests.factories import Factory
from tests.resolvers.delivery.conftest import queue, row

TOKEN = "webhook-test-token"
PUBLIC = "https://api.school.example"
PATH = "/webhooks/sms/status"


async def sent_sms(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings, factory: Factory, sids: list[str]
) -> list[int]:
    """SENT SMS deliveries with these provider message ids."""
    school = await factory.school("north")
    addresses = [f"+1555010{n}" for n in range(len(sids))]
    made = await queue(session_factory, settings, school, CommunicationChannel.SMS, addresses)
    async with session_factory.begin() as session:
        for delivery_id, sid in zip(made.delivery_ids, sids, strict=True):
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(
                    status=DeliveryStatus.SENT,
                    attempts=1,
                    sent_at=utcnow(),
                    next_attempt_at=None,
                    provider_message_id=sid,
                )
            )
    return made.delivery_ids


def report(sid: str, status: str) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": status, "AccountSid": "ACx", "To": "+15550100"}


async def post(http: httpx.AsyncClient, url: str, form: dict[str, str], signed: str | None) -> int:
    headers = {SIGNATURE_HEADER: signed} if signed is not None else {}
    return (await http.post(url, data=form, headers=headers)).status_code


async def test_behind_public_url_only_a_signature_over_its_url_counts(
    start_server: Any, factory: Factory, session_factory: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    delivered_id, failed_id, other_id = await sent_sms(
        session_factory, settings, factory, ["SMdelivered", "SMfailed", "SMother"]
    )
    server = start_server(
        PUBLIC_URL=PUBLIC, SMS_AUTH_TOKEN=TOKEN, SMS_ACCOUNT_SID="ACx", SMS_FROM="+15550100"
    )
    own_url, public_url = f"{server.base_url}{PATH}", f"{PUBLIC}{PATH}"
    delivered = report("SMdelivered", "delivered")
    async with httpx.AsyncClient(timeout=10) as http:
        refused = [
            await post(http, own_url, delivered, None),
            await post(http, own_url, delivered, ""),
            await post(http, own_url, delivered, signature("another-token", public_url, delivered.items())),
            await post(http, own_url, delivered, signature(TOKEN, own_url, delivered.items())),
            await post(
                http,
                own_url,
                report("SMdelivered", "failed"),
                signature(TOKEN, public_url, delivered.items()),
            ),
        ]
        assert refused == [403] * 5
        assert (await row(session_factory, delivered_id)).status is DeliveryStatus.SENT, "403 changes nothing"

        assert await post(http, own_url, delivered, signature(TOKEN, public_url, delivered.items())) == 200
        failed = report("SMfailed", "failed") | {"ErrorCode": "30005"}
        assert await post(http, own_url, failed, signature(TOKEN, public_url, failed.items())) == 200
        for form in (report("SMother", "queued"), report("SMunknown", "delivered")):
            assert await post(http, own_url, form, signature(TOKEN, public_url, form.items())) == 200
        unsaid = {"MessageSid": "SMother"}
        assert await post(http, own_url, unsaid, signature(TOKEN, public_url, unsaid.items())) == 400
    assert (await row(session_factory, delivered_id)).status is DeliveryStatus.DELIVERED
    failure = await row(session_factory, failed_id)
    assert (failure.status, failure.last_error) == (DeliveryStatus.FAILED, "failed (error 30005)")
    assert (await row(session_factory, other_id)).status is DeliveryStatus.SENT


async def test_without_public_url_the_requests_own_url_is_signed_and_no_token_refuses_all(
    start_server: Any, factory: Factory, session_factory: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    [delivery_id] = await sent_sms(session_factory, settings, factory, ["SMone"])
    unchecked = start_server()  # no SMS_AUTH_TOKEN: nothing can be checked, nothing is believed
    server = start_server(SMS_AUTH_TOKEN=TOKEN)
    form = report("SMone", "delivered")
    async with httpx.AsyncClient(timeout=10) as http:
        no_token_url = f"{unchecked.base_url}{PATH}"
        assert await post(http, no_token_url, form, signature("", no_token_url, form.items())) == 403
        assert (await row(session_factory, delivery_id)).status is DeliveryStatus.SENT
        url = f"{server.base_url}{PATH}"
        assert await post(http, url, form, signature(TOKEN, f"{PUBLIC}{PATH}", form.items())) == 403
        assert await post(http, url, form, signature(TOKEN, url, form.items())) == 200
    assert (await row(session_factory, delivery_id)).status is DeliveryStatus.DELIVERED
