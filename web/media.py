"""`GET /media/<token>`: the file a signed token grants (stores/media.py signs and reads them)."""

from __future__ import annotations

import asyncio
import os
import time

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from config import Settings
from errors import Forbidden
from stores.media import InvalidMediaKey, MediaStore, content_disposition, read_token

# Sent with every answer, so that a file (an uploaded HTML or SVG, say) can never run script,
# be sniffed into another type, or leak its bearer URL through the Referer header.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
}


def media_routes(settings: Settings) -> list[Route]:
    """`GET /media/{token}`: the file a valid token grants, streamed, with headers that keep it inert."""
    store = MediaStore(settings.media_dir)

    async def serve(request: Request) -> Response:
        try:
            link = read_token(settings, request.path_params["token"])
            path = store.open_path(link.key)
        except Forbidden as error:
            return _refusal(str(error), 403)
        except (InvalidMediaKey, TypeError):  # signed with our secret, but not a key we sign
            return _refusal("This link is not valid.", 403)
        try:
            stat_result = await asyncio.to_thread(os.stat, path)
        except FileNotFoundError:
            return _refusal("This file no longer exists.", 404)
        remaining = max(0, int(link.expires_at.timestamp() - time.time()))
        headers = {
            **SECURITY_HEADERS,
            "Content-Disposition": content_disposition(link.disposition, link.filename),
            "Cache-Control": f"private, max-age={remaining}",
        }
        return FileResponse(path, stat_result=stat_result, media_type=link.content_type, headers=headers)

    return [Route("/media/{token}", serve, methods=["GET"], name="media")]


def _refusal(message: str, status_code: int) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
    return PlainTextResponse(message, status_code=status_code, headers=headers)
