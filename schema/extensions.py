"""Schema extensions: error masking with a request id, and the limits applied before execution."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
    max_aliases,
    query_depth_limiter,
)

from config import Settings
from models.db import operation_statements
from resolvers import audit
from resolvers.errors import ApiError
from schema.limits import HideSuggestions, QueryLimits

log = logging.getLogger("campusgraph.errors")


def is_unexpected(error: GraphQLError) -> bool:
    """Syntax, validation and limit errors have no original error; ApiErrors are meant for
    the client. Anything else is a bug or an outage, and is masked."""
    original = error.original_error
    return original is not None and not isinstance(original, (ApiError, GraphQLError))


class MaskUnexpectedErrors(MaskErrors):
    """Masks unexpected errors; the client gets the request id that the log line carries."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Internal server error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        request_id = getattr(self.execution_context.context, "request_id", None)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
        return masked


class Metrics(SchemaExtension):
    """`extensions.metrics { sqlStatements durationMs }` for each operation (debug setting)."""

    def on_operation(self) -> Iterator[None]:
        self._statements = [0]
        token = operation_statements.set(self._statements)
        self._started = time.perf_counter()
        yield
        operation_statements.reset(token)
        self._duration_ms = round((time.perf_counter() - self._started) * 1000, 2)

    def get_results(self) -> dict[str, Any]:
        return {"metrics": {"sqlStatements": self._statements[0], "durationMs": self._duration_ms}}


class AuditReads(SchemaExtension):
    """Writes the operation's audited reads of student records, in one statement, after it ran."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        await audit.flush_reads(self.execution_context.context)


def schema_extensions(settings: Settings) -> list[type[SchemaExtension] | Callable[[], SchemaExtension]]:
    """Extensions are given as classes or factories, never instances (a new one per operation).

    The depth and alias rules are built once: `ValidationCache` keys its cache on the rule
    classes, and `QueryDepthLimiter`/`MaxAliasesLimiter` would build new ones per operation,
    so no validation would ever be served from the cache."""
    limit_rules: list[type[ASTValidationRule]] = [
        query_depth_limiter.create_validator(settings.max_query_depth, None, None),
        max_aliases.create_validator(settings.max_aliases),
    ]
    extensions: list[Any] = [
        MaskUnexpectedErrors,
        lambda: AddValidationRules(limit_rules),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        QueryLimits,
        AuditReads,
    ]
    if not settings.introspection_enabled:
        extensions.append(HideSuggestions)
    if settings.debug_metrics:
        extensions.insert(0, Metrics)
    return extensions
