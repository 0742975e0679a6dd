"""The query cost model (schema/cost.py): what a read really causes, and a budget that fits a
teacher's working day but not a scraper."""

from __future__ import annotations

import functools
from typing import Any

import httpx
from graphql import GraphQLSchema, OperationDefinitionNode, get_introspection_query, parse
from limits import parse as parse_limit

from config import Settings
from resolvers.ids import encode_id
from resolvers.pagination import DEFAULT_PAGE_SIZE
from schema import build_schema
from schema.cost import DEFAULT_LIST_SIZE, WRITE_COST, operation_cost
from tests.clients import GraphQLClient
from tests.contract.documents import OPERATIONS, contract_operation
from tests.factories import Factory

# The domains whose operations are built (the others are pending, tests/contract/pending.py).
BUILT = ("auth", "students", "gradebook", "teacher", "student_dashboard", "chat", "overview")
# Typical variables: only pages and ids change a cost; pages of 20 (the default page size).
TYPICAL: dict[str, dict[str, Any]] = {
    "StudentSearch": {"first": 20},
    "StudentTimeline": {"first": 20},
    "StudentsAtRisk": {"riskThreshold": 0.5, "first": 20},
    "Conversations": {"first": 20},
    "ConversationMessages": {"last": 50},
    "Notifications": {"first": 20},
}
# A frontend's largest pages (MAX_PAGE_SIZE).
LARGEST: dict[str, dict[str, Any]] = {
    name: {key: 100 if key in ("first", "last") else value for key, value in variables.items()}
    for name, variables in TYPICAL.items()
}


@functools.cache
def schema() -> GraphQLSchema:
    return build_schema(Settings(_env_file=None))._schema  # type: ignore[call-arg]


def cost(query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None) -> int:
    return operation_cost(schema(), parse(query), operation_name, variables or {})


def contract_costs(variables: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Every operation of the built domains, by name, with the given variables."""
    costs = {}
    for domain in BUILT:
        document = parse((OPERATIONS / f"{domain}.graphql").read_text())
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                name = definition.name.value
                costs[name] = operation_cost(schema(), document, name, variables.get(name, {}))
    return costs


def per_hour(rule: str) -> float:
    """A budget in the `limits` notation ("50000/hour"), as points an hour."""
    item = parse_limit(rule)
    return item.amount * 3600 / item.get_expiry()


def heavy_teacher_hour(costs: dict[str, int]) -> int:
    """200 gradebook reads; 300 grade writes, each as the sheet makes it (focus the cell, lock
    it, write it, unlock it); 100 dashboard and student reads, each priced as the dearest."""
    write = costs["FocusGradeCell"] + costs["LockGradeCell"] + costs["UpdateGrade"] + costs["UnlockGradeCell"]
    reads = max(
        costs[name]
        for name in (
            "TeacherDashboard",
            "StudentDashboard",
            "StudentProfile",
            "StudentTimeline",
            "StudentSearch",
            "StudentsAtRisk",
            "StudentProgress",
        )
    )
    return 200 * costs["Gradebook"] + 300 * write + 100 * reads


SCRAPER_PAGE = """query Scrape($first: Int, $after: String) {
  students(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id studentNumber name email status gradeLevel riskLevel } }
  }
}"""


def test_the_default_budget_fits_a_teachers_heavy_hour_and_not_a_scraper() -> None:
    budget = per_hour(Settings.model_fields["query_cost_budget"].default)
    costs = contract_costs(TYPICAL)
    teacher = heavy_teacher_hour(costs)
    # The contract's search page at 100 a page (its facets and counts too), one page a second.
    scraper_page = operation_cost(schema(), parse(contract_operation("StudentSearch")), None, {"first": 100})
    scraper = 3600 * scraper_page
    assert teacher <= budget, f"a teacher's heavy hour costs {teacher}, the budget is {budget} an hour"
    # Cut off within its first six minutes, then one page every 15 seconds or so.
    assert scraper > 10 * budget, f"a scraper's hour costs {scraper}, the budget is {budget} an hour"
    assert cost(SCRAPER_PAGE, {"first": 100}) <= scraper_page


def test_the_contract_operations_costs() -> None:
    """The table of schema/cost.py; a change here is a change of what users can do an hour."""
    costs = contract_costs(TYPICAL)
    assert {name: costs[name] for name in TABLE} == TABLE


TABLE = {
    "Gradebook": 4,
    "UpdateGrade": 14,
    "FocusGradeCell": 12,
    "LockGradeCell": 12,
    "UnlockGradeCell": 12,
    "TeacherDashboard": 2,
    "StudentProfile": 74,
    "StudentTimeline": 44,
    "StudentSearch": 42,
    "StudentsAtRisk": 42,
    "StudentDashboard": 2,
    "Conversations": 486,
    "ConversationMessages": 707,
    "Login": 16,
    "Me": 6,
}


def test_no_contract_operation_is_too_costly_even_at_the_largest_pages() -> None:
    max_cost = Settings.model_fields["max_query_cost"].default
    costs = contract_costs(LARGEST)
    assert max(costs.values()) <= max_cost // 5, costs


def test_the_gradebook_is_one_read_not_a_price_per_cell() -> None:
    """Its rows and cells come from a handful of statements whatever the class size."""
    sheet = "query($c: ID!) { gradebook(classId: $c) { rows { student { id } cells { score } } } }"
    assert cost(sheet) == 2  # the read (one round trip) and the one object it returns
    with_locks = "{ gradebook(classId: 1) { rows { cells { lock { holder { id name } } } } } }"
    assert cost(with_locks) == 2
    assert cost(contract_operation("Gradebook")) == 4  # and `class.course`, a loader


def test_a_loader_read_under_a_list_is_one_round_trip_and_its_rows() -> None:
    page = "{ students(first: 30) { nodes { id name } } }"
    assert cost(page) == 1 + 30
    # riskAssessment is loaded for the 30 students in one batch: one round trip, 30 rows.
    assert cost("{ students(first: 30) { nodes { riskAssessment { riskScore } } } }") == 31 + (1 + 30)
    # An unpaged list of reads: DEFAULT_LIST_SIZE per parent; a read below it, for each item.
    lists = "{ student(id: 1) { enrollments { class { title } } } }"
    assert cost(lists) == 2 + (1 + DEFAULT_LIST_SIZE) + (1 + DEFAULT_LIST_SIZE)
    # Async scalars of one selection are one read: User.email, role and tier load one row.
    assert cost("{ me { id email role tier joinedAt } }") == 2 + 2


def test_nested_connections_cost_the_product_of_their_pages() -> None:
    two = "{ conversations(first: 100) { nodes { messages(last: 100) { nodes { id } } } } }"
    # Each conversation's page of messages is a query of its own: 100 round trips, 10,000 rows.
    assert cost(two) == (1 + 100) + (100 + 100 * 100)
    # 100 students, a page of 100 events each, and the actor of each of the 10,000 events.
    three = """query($ids: [ID!]!) {
      nodes(ids: $ids) { ... on Student { timeline(first: 100) { nodes { actor { id } } } } }
    }"""
    assert cost(three, {"ids": ["x"] * 100}) == (1 + 100) + (100 + 100 * 100) + (1 + 100 * 100)


def test_nodes_is_priced_by_its_ids_and_a_page_without_first_by_its_default() -> None:
    ids = [encode_id("Student", n) for n in range(1, 101)]
    literal = "{ nodes(ids: [" + ", ".join(f'"{i}"' for i in ids) + "]) { id } }"
    variable = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    assert cost(literal) == cost(variable, {"ids": ids}) == 1 + 100
    assert cost(variable, {"ids": ids[:3]}) == 1 + 3
    timeline = "{ student(id: 1) { timeline { nodes { kind } } } }"
    assert cost(timeline) == 2 + (1 + DEFAULT_PAGE_SIZE)
    assert cost("query($n: Int) { student(id: 1) { timeline(first: $n) { nodes { kind } } } }") == cost(
        timeline
    )


def test_mutations_cost_a_write() -> None:
    assert cost('mutation { focusGradeCell(input: {studentId: "a", assignmentId: "b"}) { ok } }') == (
        WRITE_COST + 2
    )


def test_introspection_is_priced_by_the_objects_it_builds() -> None:
    full = cost(get_introspection_query())
    types = len(schema().type_map)
    assert cost("{ __schema { types { name } } }") == 1 + types
    # It grows with the schema (2,013 at 190 types; 5,471 at 420); what must hold is that GraphiQL
    # can introspect a few times within one query's limit, and that it is never free.
    assert 1500 < full < Settings(_env_file=None).max_query_cost // 4, full  # type: ignore[call-arg]
    assert cost("{ __typename }") == 0


ALIASED_NODES = (
    "query($ids: [ID!]!) { "
    + " ".join(
        f"a{n}: nodes(ids: $ids) {{ ... on Student {{ timeline {{ nodes {{ kind }} }} }} }}"
        for n in range(30)
    )
    + " }"
)
ALIASED_INTROSPECTIONS = (
    "{ "
    + " ".join(
        f"a{n}: __schema {{ types {{ name fields {{ name args {{ name }} type {{ name }} }} }} }}"
        for n in range(30)
    )
    + " }"
)


async def test_aliased_attacks_are_refused(http: httpx.AsyncClient, factory: Factory) -> None:
    """30 aliases of `nodes(ids: [own id x 100])` reaching the timeline were priced 2,250 and
    ran 3,000 timeline queries; 30 aliased introspections were free."""
    north = await factory.school("north")
    student = GraphQLClient(http, factory.token(north.student))
    own = [encode_id("Student", north.student.id)] * 100
    for query, variables in ((ALIASED_NODES, {"ids": own}), (ALIASED_INTROSPECTIONS, {})):
        result = await student.execute(query, variables)
        assert result.get("data") is None, result
        assert result["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
