"""The item models accept the examples of services.md and refuse other shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from services.items import (
    ITEM_MODELS,
    CoachingOsItem,
    CohortItem,
    Envelope,
    Item,
    MissionsItem,
    NotificationPayload,
    PortfolioItem,
)
from services.simulator import READ_SERVICES

CONTRACT_EXAMPLES: dict[str, dict[str, Any]] = {
    "talentscope": {"skills": [{"name": "Algebra", "level": 3, "percentile": 71.5}]},
    "coaching_os": {
        "nextSession": {"startsAt": "2026-11-24T15:00:00Z", "coachName": "R. Diaz"},
        "goals": ["Read two novels"],
    },
    "missions": {
        "missions": [{"id": "m1", "title": "Map", "progress": 0.4, "dueAt": "2026-12-01T00:00:00Z"}]
    },
    "portfolio": {
        "items": [
            {"id": "p1", "title": "Essay", "url": "https://x.test/p1", "updatedAt": "2026-11-01T10:00:00Z"}
        ]
    },
    "cohort": {"name": "Fall 2026 A", "size": 28, "rankPercentile": 64.0},
    "leaderboard": {"rank": 12, "points": 3400, "participants": 310},
    "ai_coach": {"recommendations": [{"title": "Practise fractions", "reason": "Quiz 3"}]},
}


def test_there_is_a_model_for_each_read_service() -> None:
    assert set(ITEM_MODELS) == set(READ_SERVICES) == set(CONTRACT_EXAMPLES)


@pytest.mark.parametrize("service", sorted(CONTRACT_EXAMPLES))
def test_the_contract_examples_parse(service: str) -> None:
    item = ITEM_MODELS[service].model_validate(CONTRACT_EXAMPLES[service])
    assert isinstance(item, Item)


def test_fields_are_snake_case_and_typed() -> None:
    coaching = CoachingOsItem.model_validate(CONTRACT_EXAMPLES["coaching_os"])
    assert coaching.next_session is not None
    assert coaching.next_session.starts_at == datetime(2026, 11, 24, 15, tzinfo=UTC)
    assert coaching.next_session.coach_name == "R. Diaz"
    assert coaching.goals == ("Read two novels",)
    assert CohortItem.model_validate(CONTRACT_EXAMPLES["cohort"]).rank_percentile == 64.0
    entry = PortfolioItem.model_validate(CONTRACT_EXAMPLES["portfolio"]).items[0]
    assert entry.updated_at == datetime(2026, 11, 1, 10, tzinfo=UTC)


def test_nullable_keys_may_be_null_or_absent() -> None:
    assert CoachingOsItem.model_validate({"nextSession": None, "goals": []}).next_session is None
    assert CoachingOsItem.model_validate({"goals": []}).next_session is None
    mission = MissionsItem.model_validate({"missions": [{"id": "m1", "title": "t", "progress": 0}]})
    assert mission.missions[0].due_at is None


def test_unknown_keys_are_ignored() -> None:
    item = CohortItem.model_validate(CONTRACT_EXAMPLES["cohort"] | {"teacher": "Ms. Li"})
    assert item == CohortItem.model_validate(CONTRACT_EXAMPLES["cohort"])


@pytest.mark.parametrize(
    ("service", "wrong"),
    [
        ("talentscope", {"skills": [{"name": "Algebra", "level": "high", "percentile": 71.5}]}),
        ("talentscope", {"skills": "Algebra"}),
        ("coaching_os", {"nextSession": {"startsAt": "2026-11-24T15:00:00", "coachName": "R"}, "goals": []}),
        ("missions", {"missions": [{"id": "m1", "progress": 0.4}]}),
        ("cohort", {"name": "Fall 2026 A", "size": 28}),
        ("leaderboard", {"rank": None, "points": 1, "participants": 2}),
        ("ai_coach", {"unexpected": True}),
    ],
    ids=["mistyped", "not-a-list", "naive-datetime", "missing-key", "missing-field", "null", "other-shape"],
)
def test_other_shapes_are_refused(service: str, wrong: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ITEM_MODELS[service].model_validate(wrong)


def test_items_are_frozen_because_they_are_shared() -> None:
    item = CohortItem.model_validate(CONTRACT_EXAMPLES["cohort"])
    with pytest.raises(ValidationError):
        item.size = 3  # type: ignore[misc]


@pytest.mark.parametrize("body", ['{"items": {"', '{"items": []}', '{"items": {"NS-1": 3}}', "[]", "{}"])
def test_the_envelope_refuses_malformed_answers(body: str) -> None:
    with pytest.raises(ValidationError):
        Envelope.model_validate_json(body)


def test_the_notification_payload_is_camel_case_on_the_wire() -> None:
    payload = {
        "id": "n1",
        "userId": "u7",
        "kind": "GRADE",
        "title": "New grade",
        "body": "Algebra quiz: 18/20",
        "createdAt": "2026-11-23T09:30:00Z",
    }
    model = NotificationPayload.model_validate(payload)
    assert model.user_id == "u7"
    assert model.model_dump(mode="json", by_alias=True) == payload
