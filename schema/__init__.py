"""The GraphQL schema (Strawberry only): types, inputs and roots. Fields call resolvers."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection
from strawberry.file_uploads import Upload
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from config import Settings
from schema.academics import Class, Course, Teacher
from schema.execution import SharedEventExecutor
from schema.extensions import PRE_EXECUTION_REFUSALS, is_unexpected, schema_extensions
from schema.root import Mutation, Query, Subscription
from schema.students import Student
from schema.uploads import UploadDefinition
from schema.users import School, User

log = logging.getLogger("campusgraph.errors")

NODE_TYPES = [School, User, Student, Teacher, Class, Course]


class CampusSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logs unexpected errors with the request id; expected ones are the client's business."""
        request_id = getattr(execution_context.context, "request_id", None) if execution_context else None
        for error in errors:
            if isinstance(error.original_error, PRE_EXECUTION_REFUSALS) and not error.extensions:
                error.extensions = {"code": "BAD_REQUEST"}
            if is_unexpected(error):
                log.error("request %s failed: %s", request_id, error.message, exc_info=error.original_error)


def build_schema(settings: Settings) -> strawberry.Schema:
    extensions: list[Any] = schema_extensions(settings)
    if not settings.introspection_enabled:
        extensions.append(DisableIntrospection)
    return CampusSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=NODE_TYPES,
        extensions=extensions,
        config=StrawberryConfig(),
        scalar_overrides={Upload: UploadDefinition},
        execution_context_class=SharedEventExecutor,
    )
