"""`GET /auth/sso/{key}/start` and `/auth/sso/{key}/callback`: the browser's part of single sign-on.

Both answer 302 (start: to the provider, or 404 for an unknown or disabled provider; callback:
to {FRONTEND_URL}/auth/sso/complete with a one-time code or an error). What they decide is in
resolvers/sso.py. No bearer token: the state made at the start ties the callback to it, and a
cookie with that state (HttpOnly, SameSite=Lax so that the provider's redirect carries it, only
for /auth/sso/, as long as the state lives) ties it to the browser that started.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from context import AppState, Context
from resolvers.sso import STATE_SECONDS, Callback, finish_sign_in, start_sign_in

# The URLs carry a state or a one-time code: never cached, never sent on as a referrer.
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
STATE_COOKIE = "campusgraph_sso_state"
COOKIE_PATH = "/auth/sso/"


def sso_routes(state: AppState) -> list[Route]:
    public_https = (state.settings.public_url or "").startswith("https://")

    async def start(request: Request) -> Response:
        ctx = Context(app=state, request=request, response=None)
        query = request.query_params
        started = await start_sign_in(
            ctx, request.path_params["key"], query.get("school", ""), query.get("returnTo")
        )
        if started is None:
            return PlainTextResponse("No such sign-in provider.", status_code=404, headers=HEADERS)
        response = RedirectResponse(started.url, status_code=302, headers=HEADERS)
        if started.state is not None:
            response.set_cookie(
                STATE_COOKIE,
                started.state,
                max_age=STATE_SECONDS,
                path=COOKIE_PATH,
                secure=public_https or request.url.scheme == "https",
                httponly=True,
                samesite="lax",
            )
        return response

    async def callback(request: Request) -> Response:
        ctx = Context(app=state, request=request, response=None)
        query = request.query_params
        answer = Callback(
            code=query.get("code"),
            state=query.get("state"),
            error=query.get("error"),
            browser_state=request.cookies.get(STATE_COOKIE),
        )
        target = await finish_sign_in(ctx, request.path_params["key"], answer)
        response = RedirectResponse(target, status_code=302, headers=HEADERS)
        if answer.state is not None and answer.state == answer.browser_state:
            response.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)  # its flow is over, one way or the other
        return response

    return [
        Route("/auth/sso/{key}/start", start, methods=["GET"], name="sso_start"),
        Route("/auth/sso/{key}/callback", callback, methods=["GET"], name="sso_callback"),
    ]
