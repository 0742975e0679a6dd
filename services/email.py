"""E-mail over SMTP (aiosmtplib), one message per call, with what the answer means for a retry.

The SMTP reply decides: 250 → SENT; a 4xx (greylisting, a full mailbox queue) or no answer at
all (connection refused, timeout, disconnect) → RETRY; a 5xx for the recipient → BOUNCED, never
retried. A failed sign-in to the relay is RETRY too: it is the server's configuration, not the
recipient's address, that is wrong, and it should not turn every message into a bounce.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from config import Settings


class EmailOutcome(enum.Enum):
    SENT = "SENT"
    RETRY = "RETRY"
    BOUNCED = "BOUNCED"


@dataclass(frozen=True)
class EmailAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class OutgoingEmail:
    """One message to one address. `message_id` (e.g. "delivery-42") is kept across retries,
    so that a receiving system can drop a copy it already has."""

    to: str
    subject: str
    text: str
    attachments: Sequence[EmailAttachment] = field(default_factory=tuple)
    message_id: str | None = None


@dataclass(frozen=True)
class EmailResult:
    outcome: EmailOutcome
    error: str | None = None


class Mailer:
    """Sends through SMTP_HOST:SMTP_PORT; `enabled` is False when no host is configured."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def enabled(self) -> bool:
        return self.settings.email_enabled

    def compose(self, email: OutgoingEmail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = email.to
        message["Subject"] = email.subject
        domain = self.settings.smtp_from.rpartition("@")[2].strip("> ") or "campusgraph.local"
        message["Message-ID"] = (
            f"<{email.message_id}@{domain}>" if email.message_id else make_msgid(domain=domain)
        )
        message.set_content(email.text)
        for attachment in email.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            message.add_attachment(
                attachment.data,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
        return message

    async def send(self, email: OutgoingEmail) -> EmailResult:
        settings = self.settings
        if not settings.smtp_host:
            return EmailResult(EmailOutcome.RETRY, "e-mail is not configured (SMTP_HOST)")
        try:
            await aiosmtplib.send(
                self.compose(email),
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=settings.smtp_password,
                start_tls=settings.smtp_starttls,
                timeout=settings.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refused.code for refused in error.recipients]
            return _by_code(min(codes) if codes else 500, "; ".join(str(r.message) for r in error.recipients))
        except aiosmtplib.SMTPAuthenticationError as error:
            return EmailResult(EmailOutcome.RETRY, f"SMTP sign-in refused: {error.code}")
        except aiosmtplib.SMTPResponseException as error:
            return _by_code(error.code, error.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            return EmailResult(EmailOutcome.RETRY, f"{type(error).__name__}: {error}"[:500])
        return EmailResult(EmailOutcome.SENT)


def _by_code(code: int, message: str) -> EmailResult:
    outcome = EmailOutcome.BOUNCED if 500 <= code < 600 else EmailOutcome.RETRY
    return EmailResult(outcome, f"{code} {message}"[:500])
