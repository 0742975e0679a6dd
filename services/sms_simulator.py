"""A small Twilio-compatible SMS provider over real HTTP, for development and tests.

    python -m services.sms_simulator [--port 8901] [--host 127.0.0.1] [--sid AC...] [--token ...]

answers `POST /2010-04-01/Accounts/{sid}/Messages.json` (HTTP Basic auth sid:token; form To,
From, Body, StatusCallback) as Twilio does: 201 with the message's `sid`, 401 for other
credentials, 400 for a missing field or a body over 1600 characters. It prints the variables
that point the server at it (SMS_API_URL, SMS_ACCOUNT_SID, SMS_AUTH_TOKEN, SMS_FROM) once it
holds the port (`--port 0` takes a free one). Nothing is ever sent to a phone.

For tests and demos: `GET /_messages` lists the messages it accepted, `POST /_reset` forgets them
and the faults, `POST /_faults` with `{"to": "+15550123", "status": 500}` makes it answer that
status (429, 500, 400...) for that number (`"status": 0` clears it), and `POST /_status` with
`{"sid": "SM...", "status": "delivered", "errorCode": "30003"}` sends the message's
StatusCallback (form MessageSid, MessageStatus, AccountSid, From, To[, ErrorCode]) signed with
X-Twilio-Signature, and answers the status code the callback got. `running_sms_simulator()`
runs it inside the test's event loop on a free port.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import secrets
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.simulator import bind, serving
from services.sms import SIGNATURE_HEADER, signature

DESCRIPTION = "A Twilio-compatible SMS provider that keeps what it is sent and sends nothing on."
DEFAULT_SID = "ACsimulator0000000000000000000000"
DEFAULT_TOKEN = "sim-token"  # noqa: S105 - the simulator's well-known development credential
DEFAULT_FROM = "+15550100"
DEFAULT_PORT = 8901
MAX_BODY = 1600  # Twilio's limit for one message's Body

Json = dict[str, Any]


@dataclass
class SimulatedMessage:
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    status: str = "queued"
    date_created: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


@dataclass
class SmsSimulatorState:
    account_sid: str
    auth_token: str
    messages: list[SimulatedMessage] = field(default_factory=list)
    # Number → the HTTP status answered for it instead of accepting the message.
    faults: dict[str, int] = field(default_factory=dict)


def _error(status: int, code: int, message: str) -> JSONResponse:
    """Twilio's error shape."""
    return JSONResponse({"code": code, "message": message, "status": status}, status_code=status)


def create_app(account_sid: str = DEFAULT_SID, auth_token: str = DEFAULT_TOKEN) -> Starlette:
    state = SmsSimulatorState(account_sid, auth_token)

    def authorized(request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return scheme.lower() == "basic" and (user, password) == (state.account_sid, state.auth_token)

    async def create_message(request: Request) -> Response:
        if request.path_params["sid"] != state.account_sid or not authorized(request):
            return _error(401, 20003, "Authenticate")
        form = await request.form()
        values = {name: form.get(name) for name in ("To", "From", "Body", "StatusCallback")}
        fields = {name: value for name, value in values.items() if isinstance(value, str)}
        for name, code in (("To", 21604), ("From", 21603), ("Body", 21602)):
            if not fields.get(name):
                return _error(400, code, f"A '{name}' is required.")
        if len(fields["Body"]) > MAX_BODY:
            return _error(
                400, 21617, f"The concatenated message body exceeds the {MAX_BODY} character limit."
            )
        if status := state.faults.get(fields["To"]):
            return _error(status, 30000 + status, f"simulated failure for {fields['To']}")
        message = SimulatedMessage(
            sid=f"SM{secrets.token_hex(16)}",
            to=fields["To"],
            from_=fields["From"],
            body=fields["Body"],
            status_callback=fields.get("StatusCallback"),
        )
        state.messages.append(message)
        return JSONResponse(_answer(state, message), status_code=201)

    async def list_messages(_request: Request) -> Response:
        return JSONResponse({"messages": [_listed(message) for message in state.messages]})

    async def reset(_request: Request) -> Response:
        state.messages.clear()
        state.faults.clear()
        return JSONResponse({"ok": True})

    async def set_fault(request: Request) -> Response:
        body = await _json_body(request)
        to, status = body.get("to"), body.get("status")
        if not isinstance(to, str) or not isinstance(status, int) or not (status == 0 or 400 <= status < 600):
            return JSONResponse({"error": 'expected {"to": "+1555...", "status": 400..599 or 0}'}, 400)
        if status:
            state.faults[to] = status
        else:
            state.faults.pop(to, None)
        return JSONResponse({"ok": True})

    async def report_status(request: Request) -> Response:
        body = await _json_body(request)
        message = next((m for m in state.messages if m.sid == body.get("sid")), None)
        status, error_code = body.get("status"), body.get("errorCode")
        if message is None or not isinstance(status, str):
            return JSONResponse({"error": 'expected {"sid": a message\'s sid, "status": "delivered"}'}, 400)
        if not message.status_callback:
            return JSONResponse({"error": "that message has no StatusCallback"}, 409)
        message.status = status
        form = {
            "MessageSid": message.sid,
            "MessageStatus": status,
            "AccountSid": state.account_sid,
            "From": message.from_,
            "To": message.to,
        }
        if isinstance(error_code, str):
            form["ErrorCode"] = error_code
        signed = signature(state.auth_token, message.status_callback, form.items())
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(message.status_callback, data=form, headers={SIGNATURE_HEADER: signed})
        return JSONResponse({"callbackStatus": answer.status_code})

    return Starlette(
        routes=[
            Route("/2010-04-01/Accounts/{sid}/Messages.json", create_message, methods=["POST"]),
            Route("/_messages", list_messages, methods=["GET"]),
            Route("/_reset", reset, methods=["POST"]),
            Route("/_faults", set_fault, methods=["POST"]),
            Route("/_status", report_status, methods=["POST"]),
        ]
    )


def _answer(state: SmsSimulatorState, message: SimulatedMessage) -> Json:
    """The fields of Twilio's Message resource that a client reads."""
    return {
        "sid": message.sid,
        "account_sid": state.account_sid,
        "to": message.to,
        "from": message.from_,
        "body": message.body,
        "status": message.status,
        "num_segments": str(-(-len(message.body) // 160)),
        "date_created": message.date_created,
        "uri": f"/2010-04-01/Accounts/{state.account_sid}/Messages/{message.sid}.json",
    }


def _listed(message: SimulatedMessage) -> Json:
    listed = asdict(message)
    listed["from"] = listed.pop("from_")
    return listed


async def _json_body(request: Request) -> Json:
    """The request's JSON object, or {} when it is not one."""
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def sms_env(base_url: str, account_sid: str = DEFAULT_SID, auth_token: str = DEFAULT_TOKEN) -> dict[str, str]:
    """The variables pointing the server at a simulator."""
    return {
        "SMS_API_URL": base_url.rstrip("/"),
        "SMS_ACCOUNT_SID": account_sid,
        "SMS_AUTH_TOKEN": auth_token,
        "SMS_FROM": DEFAULT_FROM,
    }


def running_sms_simulator(
    account_sid: str = DEFAULT_SID, auth_token: str = DEFAULT_TOKEN
) -> AbstractAsyncContextManager[str]:
    """Serves the simulator on a free loopback port in this event loop; yields its base URL."""
    return serving(create_app(account_sid, auth_token))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.sms_simulator", description=DESCRIPTION)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: a free port")
    parser.add_argument("--sid", default=DEFAULT_SID, help="the account sid it accepts")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the auth token it accepts and signs with")
    args = parser.parse_args(argv)
    sock = bind(args.host, args.port)
    base_url = f"http://{args.host}:{sock.getsockname()[1]}"
    for name, value in sms_env(base_url, args.sid, args.token).items():
        print(f"{name}={value}", flush=True)
    uvicorn.Server(uvicorn.Config(create_app(args.sid, args.token), log_level="info")).run(sockets=[sock])


if __name__ == "__main__":
    main()
