"""Skill progress as the API shows it: a student's skills with their levels and trends, and the
assessments they come from."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from models import Assessment as AssessmentModel
from resolvers import progress
from resolvers.ids import encode_id
from resolvers.progress import NewAssessment
from schema.base import Connection, Info, Node, UserError, connection_of, user_errors
from schema.students import Student
from schema.users import User


@strawberry.enum
class SkillTrend(enum.Enum):
    UP = "UP"
    DOWN = "DOWN"
    FLAT = "FLAT"


@strawberry.type
class SkillProgress:
    skill: str
    level: int = strawberry.field(
        description="1 to 5, from the share of the points of the latest assessment."
    )
    score: float = strawberry.field(description="The latest assessment's score, as a percentage.")
    trend: SkillTrend | None = strawberry.field(
        description="Against the assessment before: UP/DOWN by more than 2 points, else FLAT; null if none."
    )
    updated_at: datetime


@strawberry.type
class Assessment(Node):
    skill: str
    score: float
    max_score: float
    level: int
    notes: str | None
    assessed_at: datetime
    assessor_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row: AssessmentModel) -> Assessment:
        return cls(
            id=strawberry.ID(encode_id("Assessment", row.id)),
            skill=row.skill,
            score=row.score,
            max_score=row.max_score,
            level=row.level,
            notes=row.notes,
            assessed_at=row.assessed_at,
            assessor_id=row.assessor_id,
        )

    @strawberry.field
    async def assessor(self, info: Info) -> User | None:
        return await User.by_id(info, self.assessor_id)


@strawberry.type
class StudentProgress:
    student: Student
    overall_level: float | None = strawberry.field(description="The mean of the skills' latest levels.")
    skills: list[SkillProgress]
    student_id: strawberry.Private[int]

    @strawberry.field(description="The student's assessments, newest first.")
    async def assessments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Assessment]:
        page = await progress.assessments(info.context, self.student_id, first, after)
        return connection_of(page, Assessment.from_model)


@strawberry.input
class CreateAssessmentInput:
    student_id: strawberry.ID
    skill: str
    score: float
    max_score: float
    notes: str | None = None


@strawberry.type
class CreateAssessmentPayload:
    assessment: Assessment | None
    user_errors: list[UserError]


@strawberry.type
class ProgressQueries:
    @strawberry.field(description="A student's skills, their levels and trends, and their assessments.")
    async def student_progress(self, info: Info, student_id: strawberry.ID) -> StudentProgress:
        found = await progress.student_progress(info.context, str(student_id))
        return StudentProgress(
            student=Student.from_model(found.student, found.profile),
            overall_level=found.overall_level,
            skills=[
                SkillProgress(
                    skill=s.skill,
                    level=s.level,
                    score=s.score,
                    trend=SkillTrend(s.trend) if s.trend else None,
                    updated_at=s.updated_at,
                )
                for s in found.skills
            ],
            student_id=found.student.id,
        )


@strawberry.type
class ProgressMutations:
    @strawberry.mutation(description="By the student's teachers and mentors; the level comes from the score.")
    async def create_assessment(self, info: Info, input: CreateAssessmentInput) -> CreateAssessmentPayload:
        result = await progress.create_assessment(
            info.context,
            NewAssessment(str(input.student_id), input.skill, input.score, input.max_score, input.notes),
        )
        if isinstance(result, list):
            return CreateAssessmentPayload(assessment=None, user_errors=user_errors(result))
        return CreateAssessmentPayload(assessment=Assessment.from_model(result), user_errors=[])
