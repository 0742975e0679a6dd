"""The vendored contract operations, one by name, as the frontends send them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from graphql import OperationDefinitionNode, parse, print_ast

OPERATIONS = Path(__file__).resolve().parent / "operations"


@cache
def contract_operation(name: str) -> str:
    """The text of the contract operation called `name` (e.g. "Login")."""
    for path in sorted(OPERATIONS.glob("*.graphql")):
        for definition in parse(path.read_text()).definitions:
            if (
                isinstance(definition, OperationDefinitionNode)
                and definition.name
                and definition.name.value == name
            ):
                return print_ast(definition)
    raise KeyError(name)
