"""Ends a WebSocket when its access token expires or its session is logged out (any process)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from starlette.websockets import WebSocket, WebSocketState

from auth.tokens import AccessClaims
from subscriptions.bus import EventBus
from subscriptions.channels import user_sessions_channel
from subscriptions.events import SessionRevoked

SESSION_ENDED = 4403


async def watch_session(bus: EventBus, websocket: WebSocket, claims: AccessClaims) -> None:
    """Closes the socket with 4403 at the token's expiry or on a revocation of its session.

    The client then refreshes its token and reconnects, re-querying what it shows."""
    reason = "Token expired"
    lifetime = max(0.0, (claims.expires_at - datetime.now(UTC)).total_seconds())
    async with bus.subscribe(user_sessions_channel(claims.user_id), SessionRevoked) as events:

        async def revoked() -> None:
            async for event in events:
                if event.session_id in (None, claims.session_id):
                    return

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(lifetime):
                await revoked()
                reason = "Session ended"
    if websocket.application_state != WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError):
            await websocket.close(code=SESSION_ENDED, reason=reason)
