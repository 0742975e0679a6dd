"""The SMS client against the simulator over real loopback HTTP, the simulator's own behaviour, and
the request signature against Twilio's published test vectors."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from config import Settings
from services.simulator import serving
from services.sms import SIGNATURE_HEADER, OutgoingSms, SmsClient, SmsOutcome, signature, valid_signature
from services.sms_simulator import DEFAULT_FROM, running_sms_simulator, sms_env
from tests.conftest import ROOT, free_port

SID = "ACtest00000000000000000000000000"
TOKEN = "test-token"

# Twilio's documented example (its webhook security docs and every official library's tests).
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_the_signature_matches_twilios_documented_example() -> None:
    assert signature("12345", TWILIO_URL, TWILIO_PARAMS.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    # The field order as sent does not matter: names are sorted.
    assert signature("12345", TWILIO_URL, reversed(TWILIO_PARAMS.items())) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_a_name_sent_several_times_signs_each_distinct_value_in_order() -> None:
    # The vector of Twilio's libraries for repeated fields.
    params = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]
    assert signature("12345", TWILIO_URL, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_a_signature_holds_only_for_its_token_url_and_fields() -> None:
    good = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    params = list(TWILIO_PARAMS.items())
    assert valid_signature("12345", TWILIO_URL, params, good)
    assert not valid_signature("54321", TWILIO_URL, params, good)
    assert not valid_signature("12345", TWILIO_URL + "&baz=3", params, good)
    assert not valid_signature("12345", TWILIO_URL, [*params, ("Extra", "1")], good)
    assert not valid_signature("12345", TWILIO_URL, params, None)
    assert not valid_signature("12345", TWILIO_URL, params, "")
    assert not valid_signature("12345", TWILIO_URL, params, "ünicode=")


@pytest.fixture
async def provider() -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """A fresh simulator: its base URL and a client of its admin endpoints."""
    async with running_sms_simulator(SID, TOKEN) as base_url, httpx.AsyncClient(base_url=base_url) as admin:
        yield base_url, admin


def sms_settings(base_url: str, **overrides: Any) -> Settings:
    fields = {name.lower(): value for name, value in sms_env(base_url, SID, TOKEN).items()}
    return Settings(environment="test", _env_file=None, **(fields | overrides))  # type: ignore[call-arg]


async def messages(admin: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await admin.get("/_messages")
    response.raise_for_status()
    listed: list[dict[str, Any]] = response.json()["messages"]
    return listed


async def test_an_accepted_message_is_sent_with_the_providers_sid(
    provider: tuple[str, httpx.AsyncClient],
) -> None:
    base_url, admin = provider
    async with httpx.AsyncClient() as http:
        client = SmsClient(sms_settings(base_url), http)
        assert client.enabled
        result = await client.send(OutgoingSms("+15550123", "Field trip\nhttps://app/x", "https://api/cb"))
    [message] = await messages(admin)
    assert result.outcome is SmsOutcome.SENT
    assert result.message_id == message["sid"]
    assert message["sid"].startswith("SM")
    assert (message["to"], message["from"], message["body"]) == (
        "+15550123",
        DEFAULT_FROM,
        "Field trip\nhttps://app/x",
    )
    assert message["status_callback"] == "https://api/cb"


async def test_rate_limits_and_server_errors_are_retried_other_refusals_fail(
    provider: tuple[str, httpx.AsyncClient],
) -> None:
    base_url, admin = provider
    for number, status in (("+15550429", 429), ("+15550500", 500), ("+15550503", 503), ("+15550400", 400)):
        (await admin.post("/_faults", json={"to": number, "status": status})).raise_for_status()
    async with httpx.AsyncClient() as http:
        client = SmsClient(sms_settings(base_url), http)
        results = {
            n: await client.send(OutgoingSms(n, "hi")) for n in ("+15550429", "+15550500", "+15550503")
        }
        refused = await client.send(OutgoingSms("+15550400", "hi"))
        (await admin.post("/_faults", json={"to": "+15550500", "status": 0})).raise_for_status()
        cleared = await client.send(OutgoingSms("+15550500", "hi"))
    assert {n: r.outcome for n, r in results.items()} == dict.fromkeys(results, SmsOutcome.RETRY)
    assert results["+15550429"].error == "HTTP 429: 30429 simulated failure for +15550429"
    assert (refused.outcome, refused.message_id) == (SmsOutcome.FAILED, None)
    assert refused.error == "HTTP 400: 30400 simulated failure for +15550400"
    assert cleared.outcome is SmsOutcome.SENT
    assert [m["to"] for m in await messages(admin)] == ["+15550500"]


async def test_wrong_credentials_fail_and_no_answer_is_retried(
    provider: tuple[str, httpx.AsyncClient],
) -> None:
    base_url, admin = provider
    async with httpx.AsyncClient() as http:
        wrong = await SmsClient(sms_settings(base_url, sms_auth_token="nope"), http).send(
            OutgoingSms("+1555", "x")
        )
        down = sms_settings(f"http://127.0.0.1:{free_port()}")
        unreachable = await SmsClient(down, http).send(OutgoingSms("+1555", "x"))
        off = SmsClient(sms_settings(base_url, sms_account_sid=None), http)
        unconfigured = await off.send(OutgoingSms("+1555", "x"))
    assert (wrong.outcome, wrong.error) == (SmsOutcome.FAILED, "HTTP 401: 20003 Authenticate")
    assert unreachable.outcome is SmsOutcome.RETRY
    assert str(unreachable.error).startswith("ConnectError")
    assert not off.enabled
    assert unconfigured.outcome is SmsOutcome.RETRY
    assert await messages(admin) == []


async def test_the_simulator_refuses_what_twilio_refuses(provider: tuple[str, httpx.AsyncClient]) -> None:
    _, admin = provider
    path = f"/2010-04-01/Accounts/{SID}/Messages.json"
    no_body = await admin.post(path, data={"To": "+1555", "From": DEFAULT_FROM}, auth=(SID, TOKEN))
    too_long = await admin.post(path, data={"To": "+1", "From": "+2", "Body": "x" * 1601}, auth=(SID, TOKEN))
    other_account = await admin.post(
        "/2010-04-01/Accounts/ACother/Messages.json",
        data={"To": "+1", "From": "+2", "Body": "x"},
        auth=(SID, TOKEN),
    )
    assert (no_body.status_code, no_body.json()["code"]) == (400, 21602)
    assert (too_long.status_code, too_long.json()["code"]) == (400, 21617)
    assert other_account.status_code == 401
    assert await messages(admin) == []


async def test_the_simulator_signs_its_status_callbacks(provider: tuple[str, httpx.AsyncClient]) -> None:
    base_url, admin = provider
    received: list[tuple[str, list[tuple[str, str]], str | None]] = []

    async def callback(request: Request) -> Response:
        form = await request.form()
        fields = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
        received.append((str(request.url), fields, request.headers.get(SIGNATURE_HEADER)))
        return PlainTextResponse("")

    receiver = Starlette(routes=[Route("/status", callback, methods=["POST"])])
    async with serving(receiver) as receiver_url, httpx.AsyncClient() as http:
        client = SmsClient(sms_settings(base_url), http)
        sent = await client.send(OutgoingSms("+15550123", "hi", f"{receiver_url}/status"))
        unsigned = await client.send(OutgoingSms("+15550124", "hi"))
        answer = await admin.post(
            "/_status", json={"sid": sent.message_id, "status": "undelivered", "errorCode": "30003"}
        )
        nowhere = await admin.post("/_status", json={"sid": unsigned.message_id, "status": "delivered"})
    assert answer.json() == {"callbackStatus": 200}
    assert nowhere.status_code == 409
    [(url, fields, signed)] = received
    assert dict(fields) == {
        "MessageSid": sent.message_id,
        "MessageStatus": "undelivered",
        "AccountSid": SID,
        "From": DEFAULT_FROM,
        "To": "+15550123",
        "ErrorCode": "30003",
    }
    assert valid_signature(TOKEN, url, fields, signed)
    assert not valid_signature("other-token", url, fields, signed)


def test_the_command_prints_the_variables_and_serves() -> None:
    command = [sys.executable, "-m", "services.sms_simulator", "--port", "0", "--sid", SID, "--token", TOKEN]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        try:
            assert process.stdout is not None
            env = dict(process.stdout.readline().strip().split("=", 1) for _ in range(4))
            assert env.keys() == {"SMS_API_URL", "SMS_ACCOUNT_SID", "SMS_AUTH_TOKEN", "SMS_FROM"}
            assert (env["SMS_ACCOUNT_SID"], env["SMS_AUTH_TOKEN"]) == (SID, TOKEN)
            url = f"{env['SMS_API_URL']}/2010-04-01/Accounts/{SID}/Messages.json"
            deadline = time.monotonic() + 10
            while True:  # the port is bound before it is printed, and listened on a moment later
                try:
                    answer = httpx.post(
                        url, data={"To": "+1555", "From": "+1", "Body": "x"}, auth=(SID, TOKEN)
                    )
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline, "the simulator did not start"
                    time.sleep(0.05)
            assert answer.status_code == 201
        finally:
            process.terminate()
