from __future__ import annotations

from dataclasses import fields

from hypothesis import given, settings
from hypothesis import strategies as st

from errors import Problem
from models.templating import (
    VARIABLES,
    ParsedText,
    VariableValues,
    attribute_name,
    first_name,
    parse,
    render,
    unavailable,
)

FIELD = ("input", "body")
NAMES = [variable.name for variable in VARIABLES]


def parsed(text: str) -> ParsedText:
    result = parse(text, FIELD)
    assert isinstance(result, ParsedText), result
    return result


def problem(text: str) -> Problem:
    result = parse(text, FIELD)
    assert isinstance(result, Problem), result
    return result


def test_the_contracts_ten_variables() -> None:
    assert NAMES == [
        "recipient.firstName",
        "recipient.name",
        "student.firstName",
        "student.name",
        "student.gradeLevel",
        "class.title",
        "class.room",
        "teacher.name",
        "school.name",
        "author.name",
    ]
    assert {attribute_name(name) for name in NAMES} == {field.name for field in fields(VariableValues)}
    assert [v.name for v in VARIABLES if v.needs_student] == [
        "student.firstName",
        "student.name",
        "student.gradeLevel",
    ]
    assert [v.name for v in VARIABLES if v.needs_class] == ["class.title", "class.room", "teacher.name"]


def test_parse_finds_variables_in_order_of_first_use_with_optional_spaces() -> None:
    result = parsed(
        "Hi {{ recipient.firstName }}, {{class.title}} {{recipient.firstName}} {{  student.name}}"
    )
    assert result.names == ("recipient.firstName", "class.title", "student.name")
    assert result.variables == {"recipient.firstName", "class.title", "student.name"}
    assert result.uses_class
    assert result.uses_student
    plain = parsed("No variables, {single braces} and a stray }} are fine.")
    assert plain.names == ()
    assert not plain.uses_class
    assert not plain.uses_student


def test_unknown_variable_is_named() -> None:
    found = problem("Dear {{ recipient.first_name }}")
    assert found.code == "UNKNOWN_VARIABLE"
    assert "{{recipient.first_name}}" in found.message
    assert found.field == FIELD


def test_unclosed_and_empty_are_invalid() -> None:
    assert problem("Hello {{ recipient.name").code == "INVALID"
    assert problem("{{ recipient.name {{ school.name }}").code == "INVALID"
    assert problem("{{school.name}} and {{").code == "INVALID"
    assert problem("empty {{  }}").code == "INVALID"


def test_unavailable_class_and_student_variables() -> None:
    class_text = parsed("{{class.room}} with {{teacher.name}}")
    found = unavailable(class_text, has_class=False, include_staff=False, field=FIELD)
    assert found is not None
    assert found.code == "VARIABLE_UNAVAILABLE"
    assert "class.room" in found.message
    assert unavailable(class_text, has_class=True, include_staff=True, field=FIELD) is None
    student_text = parsed("{{student.gradeLevel}}")
    found = unavailable(student_text, has_class=True, include_staff=True, field=FIELD)
    assert found is not None
    assert found.code == "VARIABLE_UNAVAILABLE"
    assert "student.gradeLevel" in found.message
    assert unavailable(student_text, has_class=False, include_staff=False, field=FIELD) is None


def test_render_fills_values_and_empties_missing_ones() -> None:
    values = VariableValues(recipient_first_name="Ana", school_name="Lincoln", class_title="{{school.name}}")
    assert values.as_mapping() == {
        "recipient.firstName": "Ana",
        "school.name": "Lincoln",
        "class.title": "{{school.name}}",
    }
    text = "Hi {{ recipient.firstName }} from {{school.name}}: {{class.title}}; {{author.name}}."
    # A value is not rendered again, a variable without a value renders as "".
    assert render(text, values.as_mapping()) == "Hi Ana from Lincoln: {{school.name}}; ."
    assert render("{{unknown}} {{ school.name", {"school.name": "x"}) == "{{unknown}} {{ school.name"


def test_first_name() -> None:
    assert first_name("  Maria  Lopez ") == "Maria"
    assert first_name("") == ""


# Literal text around placeholders: anything, braces included.
literal = st.text(alphabet=st.sampled_from(list("ab {}.\n")), max_size=8)
placeholder = st.builds(
    lambda name, left, right: "{{" + left + name + right + "}}",
    st.sampled_from(NAMES),
    st.sampled_from(["", " ", "  "]),
    st.sampled_from(["", " "]),
)
texts = st.lists(st.one_of(literal, placeholder), max_size=8).map("".join)
# Values without braces (a value is never a placeholder's source).
values = st.dictionaries(st.sampled_from(NAMES), st.text(alphabet="xyz .", max_size=5))


@settings(max_examples=400, deadline=None)
@given(texts, values)
def test_render_leaves_no_known_placeholder(text: str, mapping: dict[str, str]) -> None:
    result = parse(text, FIELD)
    if isinstance(result, Problem):
        assert result.code in {"INVALID", "UNKNOWN_VARIABLE"}
        return
    rendered = render(text, mapping)
    again = parse(rendered, FIELD)
    assert isinstance(again, ParsedText)
    assert again.names == ()
    for name in NAMES:
        assert "{{" + name + "}}" not in rendered


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(literal.filter(lambda s: "{" not in s and "}" not in s), placeholder), max_size=6))
def test_parse_and_render_agree(pieces: list[tuple[str, str]]) -> None:
    text = "".join(prose + token for prose, token in pieces)
    result = parsed(text)
    used = [token.strip("{} ") for _, token in pieces]
    assert result.names == tuple(dict.fromkeys(used))
    mapping = {name: f"<{name}>" for name in NAMES}
    assert render(text, mapping) == "".join(
        prose + f"<{name}>" for (prose, _), name in zip(pieces, used, strict=True)
    )
