"""`POST /webhooks/sms/status`: the SMS provider's status callbacks (form MessageSid, MessageStatus).

No bearer token: the X-Twilio-Signature header is the credential, an HMAC of the URL the provider
called and the form, keyed with SMS_AUTH_TOKEN (services/sms.py). The URL as called is PUBLIC_URL's
when it is set (behind a proxy the request's own URL is not the one the provider signed), the
request's own otherwise. A missing or wrong signature, or no SMS_AUTH_TOKEN to check it with,
answers 403 and changes nothing. A valid report answers 200 whatever it says (a status that
changes nothing, a sid of no delivery of ours), so the provider does not send it again.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from config import Settings
from context import AppState
from resolvers.delivery.sms import STATUS_PATH
from resolvers.delivery.status import record_sms_status
from services.sms import SIGNATURE_HEADER, valid_signature

NO_STORE = {"Cache-Control": "no-store"}


def called_url(settings: Settings, request: Request) -> str:
    if not settings.public_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{settings.public_url.rstrip('/')}{request.url.path}{query}"


def webhook_routes(state: AppState) -> list[Route]:
    async def sms_status(request: Request) -> Response:
        form = await request.form()
        fields = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
        token = state.settings.sms_auth_token
        given = request.headers.get(SIGNATURE_HEADER)
        if not token or not valid_signature(token, called_url(state.settings, request), fields, given):
            return PlainTextResponse("Invalid signature.", status_code=403, headers=NO_STORE)
        sid, status, error_code = (form.get(name) for name in ("MessageSid", "MessageStatus", "ErrorCode"))
        if not isinstance(sid, str) or not isinstance(status, str):
            return PlainTextResponse("MessageSid and MessageStatus are required.", 400, headers=NO_STORE)
        await record_sms_status(state, sid, status, error_code if isinstance(error_code, str) else None)
        return PlainTextResponse("", headers=NO_STORE)

    return [Route(STATUS_PATH, sms_status, methods=["POST"], name="sms_status")]
