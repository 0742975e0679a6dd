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
from models.db import is_database_unavailable, operation_statements
from resolvers import audit
from resolvers.errors import ApiError, ServiceUnavailable
from schema.limits import HideSuggestions, QueryLimits
from schema.text import NoNulLiterals, RejectNulText

log = logging.getLogger("campusgraph.errors")


def is_unexpected(error: GraphQLError) -> bool:
    """Syntax, validation and limit errors have no original error; ApiErrors are meant for
    the client; a database outage is not a bug (see `is_database_outage`). Anything else is a
    bug, and is logged with its traceback (`CampusSchema.process_errors`) and masked."""
    original = error.original_error
    return (
        original is not None
        and not isinstance(original, (ApiError, GraphQLError))
        and not is_database_unavailable(original)
    )


def is_database_outage(error: GraphQLError) -> bool:
    """The database could not be reached (refused, lost, timed out): SERVICE_UNAVAILABLE."""
    return error.original_error is not None and is_database_unavailable(error.original_error)


class MaskUnexpectedErrors(MaskErrors):
    """Masks unexpected errors; the client gets the request id that the log line carries.

    A database outage is masked too, but as what it is: `SERVICE_UNAVAILABLE` with a message
    saying so, so that clients show "try again" rather than "bug". It is logged here, one line
    per operation however many fields failed, without a traceback (it is not a bug)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._should_mask, error_message="Internal server error.")
        self._outage_logged = False

    def _process_result(self, result: object) -> None:
        """As MaskErrors's, without its `isinstance` against a runtime-checkable Protocol: that
        check ran for every subscription event and was 15-20% of the cost of a delivery."""
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    @staticmethod
    def _should_mask(error: GraphQLError) -> bool:
        return is_unexpected(error) or is_database_outage(error)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", None)
        if is_database_outage(error):
            self._log_outage(request_id, error)
            return GraphQLError(
                ServiceUnavailable.default_message,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": ServiceUnavailable.code, "requestId": request_id},
            )
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
        return masked

    def _log_outage(self, request_id: str | None, error: GraphQLError) -> None:
        if self._outage_logged:
            return
        self._outage_logged = True
        cause = error.original_error
        detail = str(cause).partition("\n")[0]
        log.error(
            "request %s failed: the database is unavailable (%s: %s)",
            request_id,
            type(cause).__name__,
            detail,
        )


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
        NoNulLiterals,
    ]
    extensions: list[Any] = [
        MaskUnexpectedErrors,
        lambda: AddValidationRules(limit_rules),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        QueryLimits,
        RejectNulText,
        AuditReads,
    ]
    if not settings.introspection_enabled:
        extensions.append(HideSuggestions)
    if settings.debug_metrics:
        extensions.insert(0, Metrics)
    return extensions
