"""`GET /calendar/{token}.ics`: a user's calendar feed, for calendar apps that subscribe to it.

No bearer token: the signed token in the path is the credential (resolvers/calendars.py signs
and checks it). A rotated, tampered or unknown token answers 404, the same for each, so the
answer never tells which.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from context import AppState
from resolvers.calendars import feed_document

HEADERS = {
    "Cache-Control": "private, max-age=300",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def calendar_routes(state: AppState) -> list[Route]:
    async def feed(request: Request) -> Response:
        document = await feed_document(state.session_factory, state.settings, request.path_params["token"])
        if document is None:
            return PlainTextResponse(
                "No such calendar.", status_code=404, headers={"Cache-Control": "no-store"}
            )
        return Response(
            document,
            media_type="text/calendar; charset=utf-8",
            headers={**HEADERS, "Content-Disposition": 'inline; filename="campusgraph.ics"'},
        )

    return [Route("/calendar/{token}.ics", feed, methods=["GET"], name="calendar_feed")]
