"""The e-mail of one delivery: to its address, Subject = the copy's title, a text/plain body = the
copy's body, the announcement's files attached, and a Message-ID derived from the delivery id, the
same on every try (a receiving system can drop a copy it already has)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from models import AnnouncementAttachment, Communication
from services.email import EmailAttachment, OutgoingEmail
from stores.media import InvalidMediaKey, MediaStore


class UnreadableAttachment(Exception):
    """An announcement's file that is not in the media store (any more): its mails are not sent
    without it, they wait for their next try."""

    def __init__(self, filename: str) -> None:
        super().__init__(f"the attachment {filename} cannot be read")


def message_id(delivery_id: int, copy: Communication) -> str:
    """The same on every try of a delivery; the copy's moment keeps it unique when a database is
    recreated and ids start again (receivers drop a Message-ID they have seen)."""
    return f"delivery-{delivery_id}.{copy.sent_at:%Y%m%d%H%M%S%f}"


def email_for(
    delivery_id: int, address: str, copy: Communication, attachments: Sequence[EmailAttachment]
) -> OutgoingEmail:
    return OutgoingEmail(
        to=address,
        subject=copy.title,
        text=copy.body,
        attachments=tuple(attachments),
        message_id=message_id(delivery_id, copy),
    )


async def read_attachments(
    store: MediaStore, files: Sequence[AnnouncementAttachment]
) -> list[EmailAttachment]:
    """The files' bytes, in order (disk reads off the event loop); UnreadableAttachment for one
    that is gone."""
    attached = []
    for file in files:
        try:
            data = await asyncio.to_thread(store.open_path(file.storage_key).read_bytes)
        except (OSError, InvalidMediaKey):
            raise UnreadableAttachment(file.filename) from None
        attached.append(EmailAttachment(file.filename, file.content_type, data))
    return attached
