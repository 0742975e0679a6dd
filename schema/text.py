"""Text the database can store: no NUL character anywhere in an operation's input.

PostgreSQL refuses U+0000 in text ("invalid byte sequence"), so a NUL in any string argument
(a login email, a note, a message, a search) failed deep in a resolver as an unexpected error,
and SQLite would have stored it. No text of this API has a use for it: an operation carrying
one, in a literal (at validation) or in its variables, is refused before it runs, as invalid
input.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult, GraphQLError, StringValueNode, ValidationRule
from strawberry.extensions import SchemaExtension

NUL = "\x00"
MESSAGE = "Text may not contain the NUL character (U+0000)."


def value_has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(value_has_nul(key) or value_has_nul(inner) for key, inner in value.items())
    if isinstance(value, list | tuple):
        return any(value_has_nul(inner) for inner in value)
    return False  # numbers, booleans, null, uploaded files


class NoNulLiterals(ValidationRule):
    """A string literal with a NUL is invalid. A validation rule, so that a document is checked
    once and then served from the validation cache, not walked again at every request."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if NUL in node.value:
            self.report_error(GraphQLError(MESSAGE, node, extensions={"code": "BAD_USER_INPUT"}))


class RejectNulText(SchemaExtension):
    """Variables with a NUL: they change at every request, so they are checked at each one.
    Runs after validation; a result set here means the operation is not executed."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.result is None and value_has_nul(context.variables):
            error = GraphQLError(MESSAGE, extensions={"code": "BAD_USER_INPUT"})
            context.result = ExecutionResult(data=None, errors=[error])
        yield
