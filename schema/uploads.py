"""The `Upload` scalar: only files that a multipart request sent (GraphQL multipart request spec).

Strawberry's own definition lets any value through, so `photo: "x"` in a JSON request reached
the resolvers as a string, and failed there as an unexpected error. Here anything but a file is
invalid input, refused before execution like any other value of the wrong type.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, ValueNode
from starlette.datastructures import UploadFile
from strawberry.types.scalar import ScalarDefinition, scalar

NOT_A_FILE = "Upload takes a file, sent as a part of a multipart request and mapped to a variable."


def parse_upload(value: object) -> UploadFile:
    if not isinstance(value, UploadFile):
        raise GraphQLError(NOT_A_FILE)
    return value


def parse_upload_literal(_node: ValueNode, _variables: dict[str, Any] | None = None) -> UploadFile:
    """A literal is never a file."""
    raise GraphQLError(NOT_A_FILE)


UploadDefinition: ScalarDefinition = scalar(
    name="Upload",
    description="Represents a file upload.",
    serialize=lambda value: value,
    parse_value=parse_upload,
    parse_literal=parse_upload_literal,
)
