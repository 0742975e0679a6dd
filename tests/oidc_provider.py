"""A real local OpenID provider for the SSO tests: PyPI oidc-provider-mock in its own process,
on a free loopback port, issuer http://127.0.0.1:{port}.

- `set_user(sub, claims)` files the claims the provider puts in that user's ID token
  (e.g. {"email": ..., "email_verified": true}); `authorize(url, sub)` is the user signing in at
  the provider's form (the mock's POST to its authorization URL) and answers where the provider
  sends the browser back (our callback, with code and state); `deny(url)` is the user refusing.
- The mock requires a nonce (require_nonce) but does not check PKCE; the process puts a small
  WSGI layer in front of it that does, as Google and Entra ID do (RFC 7636, section 4.6): an
  authorization request without an S256 code_challenge is refused, and the token request must
  carry the code_verifier whose S256 is the challenge made for that code (else invalid_grant).
  The layer also adds the state to a refusal's redirect, which the mock leaves out.

`python -m tests.oidc_provider PORT` is the process; the mock (which imports Authlib's deprecated
jose module) is imported only there, never in the test process.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Listener:
    """A loopback port that never answers and tells whether anything connected to it: where a
    refused provider URL points, to show that nothing was fetched."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.setblocking(False)
        self.port: int = self._socket.getsockname()[1]

    def connected(self) -> bool:
        try:
            connection, _ = self._socket.accept()
        except BlockingIOError:
            return False
        connection.close()
        return True

    def close(self) -> None:
        self._socket.close()


@contextmanager
def listening() -> Iterator[Listener]:
    listener = Listener()
    try:
        yield listener
    finally:
        listener.close()


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class PkceCheck:
    """Refuses authorization requests without an S256 challenge and token requests whose
    code_verifier does not match the challenge of their code."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.challenges: dict[str, str] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/oauth2/authorize":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            challenge = query.get("code_challenge", [""])[0]
            if query.get("code_challenge_method") != ["S256"] or not challenge:
                return self._refuse(start_response, "invalid_request", "PKCE S256 is required")
            if method == "POST":
                state = query.get("state", [""])[0]
                return self.app(environ, self._remember(challenge, state, start_response))
        if path == "/oauth2/token" and method == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            form = parse_qs(body.decode())
            code = form.get("code", [""])[0]
            expected = self.challenges.pop(code, None)
            verifier = form.get("code_verifier", [""])[0]
            if form.get("grant_type") == ["authorization_code"] and (
                expected is None or s256(verifier) != expected
            ):
                return self._refuse(start_response, "invalid_grant", "PKCE verification failed")
        return self.app(environ, start_response)

    def _remember(self, challenge: str, state: str, start_response: StartResponse) -> StartResponse:
        """Keeps the challenge of the code the provider issues, and puts the request's state on
        an error redirect, which the mock leaves out (RFC 6749, section 4.1.2.1, requires it)."""

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            location = next((value for name, value in headers if name.lower() == "location"), "")
            query = parse_qs(urlsplit(location).query)
            if "code" in query:
                self.challenges[query["code"][0]] = challenge
            if "error" in query and "state" not in query and state:
                headers = [(n, v) for n, v in headers if n.lower() != "location"]
                headers.append(("Location", f"{location}&{urlencode({'state': state})}"))
            return start_response(status, headers, exc_info)

        return start

    @staticmethod
    def _refuse(start_response: StartResponse, error: str, description: str) -> list[bytes]:
        body = json.dumps({"error": error, "error_description": description}).encode()
        start_response("400 Bad Request", [("Content-Type", "application/json")])
        return [body]


class OidcProvider:
    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self._log = log_path.open("wb")
        env = os.environ | {"AUTHLIB_INSECURE_TRANSPORT": "1", "PYTHONWARNINGS": "ignore"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.oidc_provider", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the OpenID provider exited: {log_path.read_text()}")
            try:
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"the OpenID provider did not start: {log_path.read_text()}")

    def set_user(self, sub: str, claims: dict[str, Any]) -> None:
        answer = httpx.put(f"{self.issuer}/users/{quote(sub, safe='')}", json=claims)
        assert answer.status_code == 204, answer.text

    async def authorize(self, authorization_url: str, sub: str) -> str:
        """The user `sub` signs in: where the provider redirects the browser."""
        return await self._submit(authorization_url, {"sub": sub})

    async def deny(self, authorization_url: str) -> str:
        return await self._submit(authorization_url, {"action": "deny"})

    async def _submit(self, authorization_url: str, form: dict[str, str]) -> str:
        async with httpx.AsyncClient() as http:
            answer = await http.post(authorization_url, data=form)
        assert answer.status_code in (302, 303), answer.text
        return answer.headers["location"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


@contextmanager
def running_provider(log_dir: Path) -> Iterator[OidcProvider]:
    provider = OidcProvider(log_dir / "oidc-provider.log")
    try:
        yield provider
    finally:
        provider.stop()


def main(port: int) -> None:
    import oidc_provider_mock  # noqa: PLC0415 - only in the provider's own process
    from werkzeug.serving import make_server  # noqa: PLC0415

    app = oidc_provider_mock.app(require_nonce=True)
    make_server("127.0.0.1", port, PkceCheck(app), threaded=True).serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
