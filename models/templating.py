"""Message template variables: the ten `{{name}}` placeholders a title or body may use, how a
text is checked for them, and how it is rendered for one recipient. Pure: no I/O.

A placeholder is `{{` + a variable's name, with optional spaces around it, + `}}`. Checking
(`parse`) and rendering (`render`) read a text with the same scanner (`_tokens`), so a text that
parses renders every one of its placeholders, and nothing else. A `{{` without a `}}` after it
(or with another `{{` before it) is unclosed: INVALID. A well-formed placeholder that names no
variable is UNKNOWN_VARIABLE, naming it.

Which variables an audience can fill (`unavailable`): `{{class.*}}` and `{{teacher.name}}` (the
class's teacher) only in a class's announcement; `{{student.*}}` only when every recipient is a
student or a guardian of one (not with staff included).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from errors import Problem


@dataclass(frozen=True)
class TemplateVariable:
    name: str
    description: str
    example: str
    needs_class: bool = False
    needs_student: bool = False


VARIABLES: tuple[TemplateVariable, ...] = (
    TemplateVariable("recipient.firstName", "The recipient's first name.", "Maria"),
    TemplateVariable("recipient.name", "The recipient's full name.", "Maria Lopez"),
    TemplateVariable(
        "student.firstName",
        "The student's first name (for a guardian: the ward the copy is about).",
        "Daniel",
        needs_student=True,
    ),
    TemplateVariable(
        "student.name",
        "The student's full name (for a guardian: the ward the copy is about).",
        "Daniel Lopez",
        needs_student=True,
    ),
    TemplateVariable("student.gradeLevel", "The student's grade level.", "7", needs_student=True),
    TemplateVariable("class.title", "The class's title.", "Algebra I (Period 2)", needs_class=True),
    TemplateVariable("class.room", "The class's room.", "B-204", needs_class=True),
    TemplateVariable("teacher.name", "The class's teacher.", "Ms. Chen", needs_class=True),
    TemplateVariable("school.name", "The school's name.", "Lincoln Middle School"),
    TemplateVariable("author.name", "Who sends the message.", "Jordan Ellis"),
)

BY_NAME: Mapping[str, TemplateVariable] = {variable.name: variable for variable in VARIABLES}


@dataclass(frozen=True)
class ParsedText:
    """The variables a text (or several: `union`) uses; `names` in order of first use."""

    names: tuple[str, ...] = ()

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(self.names)

    @property
    def uses_student(self) -> bool:
        return any(BY_NAME[name].needs_student for name in self.names)

    @property
    def uses_class(self) -> bool:
        return any(BY_NAME[name].needs_class for name in self.names)

    def union(self, other: ParsedText) -> ParsedText:
        return ParsedText(tuple(dict.fromkeys(self.names + other.names)))


@dataclass(frozen=True)
class _Token:
    """A `{{ ... }}` at text[start:end]; `inner` is what is between the braces, or None when the
    `{{` at `start` is unclosed (then `end` is the text's length)."""

    start: int
    end: int
    inner: str | None


def _tokens(text: str) -> Iterator[_Token]:
    position = 0
    while (start := text.find("{{", position)) >= 0:
        close = text.find("}}", start + 2)
        inner = text[start + 2 : close] if close >= 0 else None
        if inner is None or "{{" in inner:
            yield _Token(start, len(text), None)
            return
        yield _Token(start, close + 2, inner)
        position = close + 2


def parse(text: str, field: tuple[str, ...]) -> ParsedText | Problem:
    """The variables `text` uses, or the first problem (reported at `field`)."""
    names: dict[str, None] = {}
    for token in _tokens(text):
        if token.inner is None:
            return Problem('An opening "{{" is never closed with "}}".', "INVALID", field)
        name = token.inner.strip()
        if not name:
            return Problem('"{{}}" names no variable.', "INVALID", field)
        if name not in BY_NAME:
            return Problem(f'Unknown variable "{{{{{name}}}}}".', "UNKNOWN_VARIABLE", field)
        names[name] = None
    return ParsedText(tuple(names))


def unavailable(
    parsed: ParsedText, *, has_class: bool, include_staff: bool, field: tuple[str, ...] | None
) -> Problem | None:
    """VARIABLE_UNAVAILABLE, naming the first variable that the audience cannot fill."""
    for name in parsed.names:
        variable = BY_NAME[name]
        if variable.needs_class and not has_class:
            return Problem(
                f'"{{{{{name}}}}}" can only be used in a class\'s announcement.',
                "VARIABLE_UNAVAILABLE",
                field,
            )
        if variable.needs_student and include_staff:
            return Problem(
                f'"{{{{{name}}}}}" cannot be used when staff are among the recipients.',
                "VARIABLE_UNAVAILABLE",
                field,
            )
    return None


def render(text: str, values: Mapping[str, str]) -> str:
    """`text` with each variable's placeholder replaced by its value ("" without one), in one
    pass: a value is never read for placeholders itself. What is not a known variable's
    placeholder (an unknown name, an unclosed `{{`) is kept as written."""
    parts: list[str] = []
    position = 0
    for token in _tokens(text):
        name = token.inner.strip() if token.inner is not None else None
        if name is None or name not in BY_NAME:
            continue
        parts.append(text[position : token.start])
        parts.append(values.get(name, ""))
        position = token.end
    parts.append(text[position:])
    return "".join(parts)


def first_name(full_name: str) -> str:
    """The first word of a person's name (accounts have one name field)."""
    words = full_name.split()
    return words[0] if words else ""


@dataclass(frozen=True)
class VariableValues:
    """One recipient's values; None where the variable has none (it renders as "")."""

    recipient_first_name: str | None = None
    recipient_name: str | None = None
    student_first_name: str | None = None
    student_name: str | None = None
    student_grade_level: str | None = None
    class_title: str | None = None
    class_room: str | None = None
    teacher_name: str | None = None
    school_name: str | None = None
    author_name: str | None = None

    def as_mapping(self) -> dict[str, str]:
        """Variable name → value, for the variables that have one."""
        values: dict[str, str] = {}
        for variable in VARIABLES:
            value = getattr(self, attribute_name(variable.name))
            if value is not None:
                values[variable.name] = value
        return values


def attribute_name(variable_name: str) -> str:
    """ "student.gradeLevel" → "student_grade_level", its VariableValues field."""
    return re.sub(r"[A-Z]", lambda upper: "_" + upper.group().lower(), variable_name.replace(".", "_"))
