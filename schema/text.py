"""Text the database can store: no NUL character anywhere in an operation's input.

PostgreSQL refuses U+0000 in text ("invalid byte sequence"), so a NUL in any string argument
(a login email, a note, a message, a search) failed deep in a resolver as an unexpected error,
and SQLite would have stored it. No text of this API has a use for it: an operation carrying
one, in a literal or in its variables, is refused before it runs, as invalid input.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import BREAK, DocumentNode, ExecutionResult, GraphQLError, StringValueNode, Visitor, visit
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


class _StringsWithNul(Visitor):
    found = False

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        if NUL in node.value:
            self.found = True
            return BREAK
        return None


def document_has_nul(document: DocumentNode) -> bool:
    finder = _StringsWithNul()
    visit(document, finder)
    return finder.found


class RejectNulText(SchemaExtension):
    """Runs after validation; a result set here means the operation is not executed."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if context.result is None and (
            value_has_nul(context.variables) or (document is not None and document_has_nul(document))
        ):
            error = GraphQLError(MESSAGE, extensions={"code": "BAD_USER_INPUT"})
            context.result = ExecutionResult(data=None, errors=[error])
        yield
