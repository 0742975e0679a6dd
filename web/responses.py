"""GraphQL answers as the GraphQL-over-HTTP specification wants them, for every client.

A client that accepts `application/graphql-response+json` (Apollo Client 4, urql, graphql-request
send it first) gets that media type, and with it the status codes it reads: 200 when execution
ran, 4xx/5xx for a request refused before it (a document that does not parse or validate, an
unknown operation name, a body too large, a CSRF refusal, an outage). Apollo 4 parses the body of a
non-2xx answer as GraphQL only under this media type; under `application/json` it hides the code
in a generic ServerError. Legacy clients asking for `application/json` (or nothing) get it, with
the status codes they had before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def negotiated_media_type(accept: str) -> str:
    """`application/graphql-response+json` if the Accept header lists it (without q=0)."""
    for entry in accept.split(","):
        media_type, *params = (part.strip() for part in entry.split(";"))
        if media_type.lower() == GRAPHQL_RESPONSE and "q=0" not in params:
            return GRAPHQL_RESPONSE
    return JSON


# A request refused before execution answers 400, or what its code says better.
REQUEST_ERROR_STATUS = {"RATE_LIMITED": 429, "SERVICE_UNAVAILABLE": 503, "UNAUTHENTICATED": 401}


def request_error_status(errors: list[Any]) -> int:
    codes = {str((error.get("extensions") or {}).get("code")) for error in errors if isinstance(error, dict)}
    statuses = {REQUEST_ERROR_STATUS.get(code, 400) for code in codes} or {400}
    return statuses.pop() if len(statuses) == 1 else 400


def error_response(
    accept: str,
    *,
    status: int,
    message: str,
    code: str,
    extensions: Mapping[str, object] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A request refused before execution: a GraphQL error with its code, no `data`."""
    body = {"errors": [{"message": message, "extensions": {"code": code, **(extensions or {})}}]}
    return Response(
        orjson.dumps(body), status_code=status, media_type=negotiated_media_type(accept), headers=headers
    )
