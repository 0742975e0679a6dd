"""SMS through a Twilio-compatible HTTP API, one message per call, with what the answer means for
a retry; and the request signature the provider puts on its status callbacks.

    POST {SMS_API_URL}/2010-04-01/Accounts/{SMS_ACCOUNT_SID}/Messages.json
    Authorization: Basic sid:token        form: To, From, Body[, StatusCallback]

A 2xx answer → SENT, with the answer's `sid` (the provider's message id, which its status
callbacks name); 429 (rate limited), a 5xx or no answer at all (connection refused, timeout)
→ RETRY; any other 4xx (a number it will not send to, a body it refuses, bad credentials) →
FAILED: the same request would be refused again.

`signature` is Twilio's X-Twilio-Signature: base64 of HMAC-SHA1, keyed with the auth token, of
the URL as called followed by each form field's name and value, sorted (a name sent with several
values contributes each distinct value, in order). web/webhooks.py checks it; the simulator
(services/sms_simulator.py) makes it.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from config import Settings

SIGNATURE_HEADER = "X-Twilio-Signature"


class SmsOutcome(enum.Enum):
    SENT = "SENT"
    RETRY = "RETRY"
    FAILED = "FAILED"


@dataclass(frozen=True)
class OutgoingSms:
    to: str
    body: str
    # Where the provider reports the message's fate (delivered, undelivered...), if anywhere.
    status_callback: str | None = None


@dataclass(frozen=True)
class SmsResult:
    outcome: SmsOutcome
    # The provider's id of the message (Twilio's `sid`), when it was accepted.
    message_id: str | None = None
    error: str | None = None


class SmsClient:
    """Sends through SMS_API_URL with SMS_ACCOUNT_SID/SMS_AUTH_TOKEN as SMS_FROM; `enabled` is False
    unless all three are set. Does not own (close) `http`; each call has SMS_TIMEOUT_SECONDS."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http

    @property
    def enabled(self) -> bool:
        return self.settings.sms_enabled

    def messages_url(self) -> str:
        sid = quote(self.settings.sms_account_sid or "", safe="")
        return f"{self.settings.sms_api_url.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"

    async def send(self, sms: OutgoingSms) -> SmsResult:
        settings = self.settings
        if not (settings.sms_account_sid and settings.sms_auth_token and settings.sms_from):
            return SmsResult(SmsOutcome.RETRY, error="SMS is not configured (SMS_ACCOUNT_SID...)")
        form = {"To": sms.to, "From": settings.sms_from, "Body": sms.body}
        if sms.status_callback:
            form["StatusCallback"] = sms.status_callback
        try:
            response = await self.http.post(
                self.messages_url(),
                data=form,
                auth=(settings.sms_account_sid, settings.sms_auth_token),
                timeout=settings.sms_timeout_seconds,
            )
        except httpx.HTTPError as error:
            return SmsResult(SmsOutcome.RETRY, error=f"{type(error).__name__}: {error}"[:500])
        if response.is_success:
            return SmsResult(SmsOutcome.SENT, message_id=_answer_sid(response))
        retry = response.status_code == 429 or response.status_code >= 500
        problem = f"HTTP {response.status_code}: {_problem(response)}"[:500]
        return SmsResult(SmsOutcome.RETRY if retry else SmsOutcome.FAILED, error=problem)


def _answer_sid(response: httpx.Response) -> str | None:
    """The accepted message's `sid`. An accepted message is sent even when the answer does not
    say its id (then no status callback can be matched to it): never sent a second time."""
    try:
        sid = response.json().get("sid")
    except (ValueError, AttributeError):
        return None
    return sid if isinstance(sid, str) and sid else None


def _problem(response: httpx.Response) -> str:
    """Twilio's error answer `{"code": 21211, "message": "..."}`, or the start of whatever it was."""
    try:
        body = response.json()
        return f"{body.get('code', '')} {body['message']}".strip()
    except (ValueError, AttributeError, KeyError, TypeError):
        return response.text[:200] or response.reason_phrase


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The X-Twilio-Signature of a request to `url` with the form fields `params`."""
    signed = url + "".join(name + value for name, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def valid_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]], given: str | None) -> bool:
    """Whether `given` (the header's value, perhaps missing) signs this request; in constant time."""
    if not given:
        return False
    return hmac.compare_digest(signature(auth_token, url, params).encode(), given.encode())
