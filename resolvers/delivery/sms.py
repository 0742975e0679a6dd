"""The SMS of one delivery: the copy's title and a link to the copy in the web app
({FRONTEND_URL}/announcements/{the copy's global id}), at most 320 characters (two concatenated
segments), and a StatusCallback to this API when PUBLIC_URL is set: without a public origin the
provider has nowhere to report to, and the delivery stays SENT."""

from __future__ import annotations

from config import Settings
from models import Communication
from resolvers.ids import encode_id
from services.sms import OutgoingSms

MAX_LENGTH = 320
ELLIPSIS = "..."  # GSM-7: "…" would make the whole message UCS-2, 70 characters a segment
STATUS_PATH = "/webhooks/sms/status"


def copy_link(settings: Settings, copy: Communication) -> str:
    return f"{settings.frontend_url.rstrip('/')}/announcements/{encode_id('Communication', copy.id)}"


def status_callback(settings: Settings) -> str | None:
    return f"{settings.public_url.rstrip('/')}{STATUS_PATH}" if settings.public_url else None


def sms_body(title: str, link: str) -> str:
    """`title` and `link` on two lines; a title too long for both is shortened, never the link."""
    room = MAX_LENGTH - len(link) - 1
    if len(title) > room:
        title = title[: max(room - len(ELLIPSIS), 0)].rstrip() + ELLIPSIS
    return f"{title}\n{link}"[:MAX_LENGTH]


def sms_for(settings: Settings, address: str, copy: Communication) -> OutgoingSms:
    return OutgoingSms(
        to=address,
        body=sms_body(copy.title, copy_link(settings, copy)),
        status_callback=status_callback(settings),
    )
