"""The error classes, at the bottom of every layer.

`ApiError` and its kinds are raised for auth problems and outages; GraphQL shows them with
`extensions.code`.

graphql-core copies an exception's `extensions` attribute into the error it reports, so
these stay free of GraphQL imports. Problems the user can fix are not exceptions: they are
`userErrors` in a mutation's payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class ApiError(Exception):
    """An expected error whose message is safe to show; never masked."""

    code: ClassVar[str] = "BAD_REQUEST"
    default_message: ClassVar[str] = "Bad request."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.extensions = {"code": self.code}


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"
    default_message = "You must be signed in."


class Forbidden(ApiError):
    """Also used for objects of another school, so that their existence is not revealed."""

    code = "FORBIDDEN"
    default_message = "You are not allowed to do this."


class BadInput(ApiError):
    code = "BAD_USER_INPUT"
    default_message = "Invalid input."


class InvalidId(BadInput):
    default_message = "Not a valid id."


class ServiceUnavailable(ApiError):
    """A dependency the request needs cannot be reached; the client may try again shortly.
    Database outages (see `models.db.is_database_unavailable`) are shown as this."""

    code = "SERVICE_UNAVAILABLE"
    default_message = "The database is unavailable. Please try again in a moment."


class SubscriberTooSlow(ApiError):
    """A subscriber fell further behind its events than the server keeps for it: its
    subscription ends with this, and the client subscribes again and re-reads what it shows."""

    code = "SUBSCRIBER_TOO_SLOW"
    default_message = "Events arrived faster than this subscription read them; subscribe again."


@dataclass(frozen=True)
class Problem:
    """A problem the user can fix. Mutations return them; the schema shows them as `userErrors`."""

    message: str
    code: str
    field: tuple[str, ...] | None = None


class ProblemError(Exception):
    """Raised inside a mutation to roll its transaction back and report `problems`."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__(problems[0].message if problems else "")
        self.problems = list(problems)
