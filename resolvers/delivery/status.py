"""What the SMS provider reports about a sent message (web/webhooks.py hands it over once its
signature is checked): `delivered` → DELIVERED (`delivered_at`), `undelivered` or `failed` →
FAILED (with the provider's error code as `last_error`); its other statuses (queued, sending,
sent...) are steps on the way and change nothing.

Only a SENT delivery changes: a repeated or late report about one already DELIVERED or FAILED
is acknowledged and ignored, and a report naming no delivery of ours (another application on
the same account, or one that came before we recorded the message's id) is ignored too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update

from models import Delivery
from models.base import utcnow
from models.enums import CommunicationChannel, DeliveryStatus

if TYPE_CHECKING:
    from context import AppState

FINAL_STATUSES = {
    "delivered": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
}


async def record_sms_status(state: AppState, message_sid: str, status: str, error_code: str | None) -> bool:
    """Applies one status report; whether a delivery changed."""
    final = FINAL_STATUSES.get(status.lower())
    if final is None or not message_sid:
        return False
    values: dict[str, object] = {"status": final}
    if final is DeliveryStatus.DELIVERED:
        values["delivered_at"] = utcnow()
    else:
        values["last_error"] = f"{status.lower()}{f' (error {error_code})' if error_code else ''}"[:500]
    async with state.writer_session_factory.begin() as session:
        changed = await session.scalar(
            update(Delivery)
            .where(
                Delivery.provider_message_id == message_sid,
                Delivery.channel == CommunicationChannel.SMS,
                Delivery.status == DeliveryStatus.SENT,
            )
            .values(**values)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
    return changed is not None
