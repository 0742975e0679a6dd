"""Opaque global ids (Relay): base64 of "Type:primaryKey"."""

from __future__ import annotations

import base64
import binascii

from errors import InvalidId

# Primary keys are INTEGER columns: a larger number names no row, and PostgreSQL refuses it
# as a query argument (an unexpected error, not "not found").
MAX_PK = 2**31 - 1


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def encode_key(type_name: str, *parts: object) -> str:
    """A global id for an object keyed by more than one primary key (a grade cell is a student
    and an assignment) or by another system's id (a mission of the missions service); unique
    for its type, never decoded by `decode_id`, which wants one integer key."""
    key = ":".join(str(part) for part in parts)
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


def decode_id(global_id: str) -> tuple[str, int]:
    """Returns (type name, primary key); raises InvalidId for anything malformed."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, raw_pk = base64.urlsafe_b64decode(padded.encode("ascii")).decode().partition(":")
        pk = int(raw_pk)
    except (ValueError, UnicodeError, binascii.Error) as error:
        raise InvalidId from error
    if not type_name or not 0 < pk <= MAX_PK or len(global_id) > 100:
        raise InvalidId
    return type_name, pk


def decode_id_of(global_id: str, expected_type: str) -> int:
    type_name, pk = decode_id(global_id)
    if type_name != expected_type:
        raise InvalidId(f"Expected an id of a {expected_type}.")
    return pk
