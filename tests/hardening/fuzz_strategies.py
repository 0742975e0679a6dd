"""The fuzzer's generators (hypothesis strategies): operations of the committed schema whose
arguments are the seeded ids of both schools, awkward strings and server-shaped cursors."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import graphql
import hypothesis_graphql as hg
from hypothesis import strategies as st

from resolvers.ids import encode_id
from resolvers.pagination import encode_cursor

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = graphql.build_schema((ROOT / "schema.graphql").read_text())
NEGATIVE_SHARE = 6  # one operation in this many breaks the schema once (Mode.NEGATIVE)

# Slugs are the markers: they are in every user's name and email, the school's name and its
# course code (Factory); the extra students, messages and assessments carry them too.
HOME, OTHER = "ashgrove", "zyxmoor"


@dataclass
class Seeded:
    """Global ids by school and type name, and the marker strings of each school."""

    typed_ids: dict[str, dict[str, list[str]]]
    markers: dict[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        self.ids = {
            school: {i for ids in by_type.values() for i in ids} for school, by_type in self.typed_ids.items()
        }

    def of_type(self, type_name: str) -> list[str]:
        return sorted(i for by_type in self.typed_ids.values() for i in by_type.get(type_name, ()))


# Strings that random text rarely is: NUL (PostgreSQL refuses it in text), LIKE wildcards,
# quotes, escapes, right-to-left and astral characters, whitespace only, long ones.
AWKWARD_STRINGS = [
    "\x00",
    "a\x00b",
    "%",
    "_",
    "%_\\",
    "' OR '1'='1",
    '"; --',
    "\\",
    "\u202eevil",
    "\U0001f600",
    " ",
    "\n\t",
    "x" * 5000,
    "é" * 300,
    "12:00",
    "-1",
]


def string_node(values: st.SearchStrategy[str]) -> st.SearchStrategy[graphql.ValueNode]:
    return values.map(lambda value: graphql.StringValueNode(value=value))


def scalar_strategies(ids: list[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Custom scalars (and ID): mostly well-formed values, some malformed ones."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    datetimes = st.datetimes(
        min_value=datetime(1, 1, 2),  # noqa: DTZ001 - Hypothesis takes naive bounds, adds `timezones`
        max_value=datetime(9999, 12, 30),  # noqa: DTZ001
        timezones=st.just(UTC),
    ).map(lambda moment: moment.isoformat())
    near = st.integers(-400, 400).map(lambda days: (now + timedelta(days=days)).isoformat())
    junk = st.text(max_size=12) | st.sampled_from(["", "2026-13-45", "2026-02-30T25:61:00Z", "now", "NaN"])
    numbers = st.integers().map(lambda n: graphql.IntValueNode(value=str(n))) | st.floats(
        allow_nan=False, allow_infinity=False
    ).map(lambda x: graphql.FloatValueNode(value=repr(x)))
    garbage_ids = st.text(max_size=20) | st.integers(-5, 10**12).map(
        lambda pk: encode_id("Student", pk) if pk > 0 else str(pk)
    )
    return {
        "String": string_node(st.text() | st.sampled_from(AWKWARD_STRINGS)),
        "ID": string_node(st.sampled_from(ids) | garbage_ids) if ids else string_node(garbage_ids),
        "DateTime": string_node(near | datetimes | st.dates().map(str) | junk),
        "Date": string_node(st.dates().map(str) | datetimes | junk),
        "Time": string_node(st.times().map(str) | datetimes | junk),
        "Decimal": string_node(st.decimals(allow_nan=False, allow_infinity=False).map(str) | junk) | numbers,
        "JSON": string_node(st.text(max_size=20)) | numbers | st.just(graphql.NullValueNode()),
        "Upload": string_node(st.text(max_size=8)),
    }


def hoist_arguments(document: str, schema: graphql.GraphQLSchema) -> tuple[str, dict[str, Any]]:
    """The same operation with its root fields' arguments sent as variables (so that variable
    coercion, not literal parsing, reads them)."""
    ast = graphql.parse(document)
    operation = next(d for d in ast.definitions if isinstance(d, graphql.OperationDefinitionNode))
    root = schema.get_root_type(operation.operation)
    assert root is not None
    definitions: list[graphql.VariableDefinitionNode] = []
    variables: dict[str, Any] = {}

    def hoisted(argument: graphql.ArgumentNode, declared: graphql.GraphQLArgument) -> graphql.ArgumentNode:
        variable = graphql.VariableNode(name=graphql.NameNode(value=f"v{len(definitions)}"))
        type_node = graphql.parse_type(str(declared.type))
        definitions.append(graphql.VariableDefinitionNode(variable=variable, type=type_node))
        variables[variable.name.value] = graphql.value_from_ast_untyped(argument.value)
        return replace(argument, value=variable)

    selections = []
    for selection in operation.selection_set.selections:
        if isinstance(selection, graphql.FieldNode) and selection.name.value in root.fields:
            declared = root.fields[selection.name.value].args
            arguments = tuple(
                hoisted(a, declared[a.name.value]) if a.name.value in declared else a
                for a in selection.arguments or ()
            )
            selection = replace(selection, arguments=arguments)  # noqa: PLW2901
        selections.append(selection)
    operation = replace(
        operation,
        variable_definitions=tuple(definitions),
        selection_set=replace(operation.selection_set, selections=tuple(selections)),
    )
    return graphql.print_ast(operation), variables


# Arguments and input fields that take the id of one type (by their name), and that type.
ID_TYPES = {
    "studentId": "Student",
    "studentIds": "Student",
    "classId": "Class",
    "assignmentId": "Assignment",
    "teacherId": "Teacher",
    "conversationId": "Conversation",
    "sessionId": "TutoringSession",
    "replyToId": "Message",
    "participantIds": "User",
    "actorId": "User",
    "chatId": "AiChat",
    "notificationIds": "Notification",
}


# Cursors shaped like the server's own (an id; "time|id"; JSON [value, id]) with values that
# no page ever handed out: ids out of range, times without a zone, values of the wrong type.
CURSORS = [
    encode_cursor(payload)
    for payload in [
        "0",
        "-1",
        "99999999999",
        "1|x",
        "²",  # a digit to str.isdigit(), not to int()
        "2026-01-01T00:00:00+00:00|1",
        "2026-01-01T00:00:00|1",
        "2026-01-01T00:00:00+00:00|99999999999",
        *(
            json.dumps(value)
            for value in [
                ["2026-01-01T00:00:00+00:00", 1],
                ["2026-01-01T00:00:00", 1],
                ["2026-01-01T00:00:00+00:00", 99999999999],
                ["9999-12-31T23:59:59+00:00", 1],
                ["x", 1],
                [0.5, 1],
                [1e308, 1],
                [True, 1],
                [None, 1],
                ["x", 99999999999],
                ["2026-01-01T00:00:00", "GRADE", 1],
                ["2026-01-01T00:00:00+00:00", "GRADE", 99999999999],
                {"a": 1},
            ]
        ),
    ]
]

# `id` arguments of root fields that take one type.
ROOT_ID_TYPES = {"conversation": "Conversation", "student": "Student"}


class Retarget(graphql.Visitor):
    """Gives arguments named like `classId` real ids of that type, of one school per operation,
    most of the time: random strings alone would rarely get past the id checks."""

    def __init__(self, seeded: Seeded, rng: Random) -> None:
        super().__init__()
        self.rng = rng
        self.ids = seeded.typed_ids[rng.choice(sorted(seeded.typed_ids))]

    def _value(self, type_name: str | None, value: graphql.ValueNode) -> graphql.ValueNode | None:
        pool = self.ids.get(type_name or "")
        if not pool or self.rng.random() > 0.8:  # (Hypothesis's randoms lean to 0.0)
            return None
        if isinstance(value, graphql.StringValueNode):
            return graphql.StringValueNode(value=self.rng.choice(pool))
        if isinstance(value, graphql.ListValueNode):
            picked = self.rng.sample(pool, min(len(pool), len(value.values) or 1))
            return graphql.ListValueNode(values=tuple(graphql.StringValueNode(value=i) for i in picked))
        return None

    def enter_field(self, node: graphql.FieldNode, *_: Any) -> graphql.FieldNode | None:
        type_name = ROOT_ID_TYPES.get(node.name.value)
        arguments = list(node.arguments or ())
        for n, argument in enumerate(arguments):
            if argument.name.value == "id" and (value := self._value(type_name, argument.value)):
                arguments[n] = replace(argument, value=value)
                return replace(node, arguments=tuple(arguments))
        return None

    def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> graphql.ArgumentNode | None:
        if node.name.value in ("after", "before") and self.rng.random() < 0.5:
            return replace(node, value=graphql.StringValueNode(value=self.rng.choice(CURSORS)))
        value = self._value(ID_TYPES.get(node.name.value), node.value)
        return None if value is None else replace(node, value=value)

    def enter_object_field(self, node: graphql.ObjectFieldNode, *_: Any) -> graphql.ObjectFieldNode | None:
        value = self._value(ID_TYPES.get(node.name.value), node.value)
        return None if value is None else replace(node, value=value)


def operations(seeded: Seeded) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """Queries and mutations, each root field equally likely; some with one schema violation; half
    of them with their arguments as variables."""
    scalars = scalar_strategies(sorted(seeded.ids[HOME] | seeded.ids[OTHER]))
    assert SCHEMA.query_type is not None
    assert SCHEMA.mutation_type is not None
    by_field = [
        hg.queries(SCHEMA, fields=[name], custom_scalars=scalars) for name in SCHEMA.query_type.fields
    ] + [hg.mutations(SCHEMA, fields=[name], custom_scalars=scalars) for name in SCHEMA.mutation_type.fields]
    negative = hg.from_schema(SCHEMA, custom_scalars=scalars, mode=hg.Mode.NEGATIVE)
    documents = st.integers(0, NEGATIVE_SHARE - 1).flatmap(
        lambda n: negative if n == 0 else st.one_of(*by_field)
    )

    def as_sent(document: str, hoist: bool, rng: Random) -> tuple[str, dict[str, Any]]:
        try:
            document = graphql.print_ast(graphql.visit(graphql.parse(document), Retarget(seeded, rng)))
            if hoist:
                return hoist_arguments(document, SCHEMA)
        except (graphql.GraphQLError, AssertionError, StopIteration):  # a negative one may not parse
            pass
        return document, {}

    return st.builds(as_sent, documents, st.booleans(), st.randoms(use_true_random=False))
