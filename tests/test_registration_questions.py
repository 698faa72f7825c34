"""Registration questions: the definition's `[[registration.questions]]`, the answers each entry
point takes (import, add, the page, the provider), the store, the listing and the export, the
templates, and Zoom's form and answers both ways, checked against Zoom's OpenAPI document."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import NOW, SAMPLE_DEFINITION

from webinar_ops.definition import RESERVED_QUESTION_IDS, load_definition, parse_definition
from webinar_ops.errors import InputError
from webinar_ops.people import FIELDS, check_answers
from webinar_ops.store import Store

QUESTIONS = """
[[registration.questions]]
id = "sector"
text = "Which sector do you work in?"
type = "choice"
choices = ["Government", "Academia", "Civil society"]
required = true

[[registration.questions]]
id = "hope"
text = "What do you hope to learn?"

[[registration.questions]]
id = "phone"
text = "Phone number"

[[registration.questions]]
id = "consent"
text = "I agree that my name is shown to the other participants"
type = "checkbox"
required = true
"""
FUTURE = ('start = "2021-04-30 15:00"', 'start = "2031-04-30 15:00"')
LATER = NOW.replace(year=2031)


def definition_text(questions: str = QUESTIONS, future: bool = False) -> str:
    text = SAMPLE_DEFINITION.read_text(encoding="utf-8") + questions
    return text.replace(*FUTURE) if future else text


def asking(store: Store, folder: Path, provider: str = "local", future: bool = False, extra: str = ""):
    """The sample webinar, asking QUESTIONS, saved for `provider`."""
    path = folder / "asking.toml"
    text = definition_text(QUESTIONS + extra, future)
    path.write_text(text, encoding="utf-8")
    return store.save_webinar(load_definition(path), text, provider, LATER if future else NOW).record


def problems_of(text: str) -> list:
    with pytest.raises(InputError) as refused:
        parse_definition(text, "webinar.toml")
    return refused.value.problems


GOOD = {"sector": "Academia", "consent": "yes"}


# -- the definition ---------------------------------------------------------------------------


def test_the_questions_are_read_in_order_with_their_kinds():
    definition = parse_definition(definition_text(), "webinar.toml")
    questions = definition.registration.questions

    assert [q.id for q in questions] == ["sector", "hope", "phone", "consent"]
    assert [q.type for q in questions] == ["choice", "text", "text", "checkbox"]
    assert questions[0].choices == ("Government", "Academia", "Civil society")
    assert [q.required for q in questions] == [True, False, False, True]
    assert [q.zoom_field for q in questions] == [None, None, "phone", None]


def test_a_definition_without_registration_asks_nothing(sample):
    assert sample.registration.questions == ()


@pytest.mark.parametrize(
    ("question", "field", "message", "fix"),
    [
        ('id = "sector"\ntext = "Sector?"\ntype = "menu"', "type", "must be one of", "text, choice, checkbox"),
        ('id = "sector"\ntext = "Sector?"\ntype = "choice"', "choices", "is missing", "choices = ["),
        ('id = "sector"\ntext = "Sector?"\nchoices = ["A"]', "choices", "has no choices", 'type = "choice"'),
        ('id = "Sector Name"\ntext = "Sector?"', "id", "is not a question id", "lower case letters"),
        ('id = "email"\ntext = "Your mail?"', "id", "already a column", "another id"),
        ('id = "phone"\ntext = "Phone?"\ntype = "checkbox"', "type", "one of Zoom's own fields", 'type = "text"'),
        ('text = "Sector?"', "id", "is missing", "add `id = ...`"),
        ('id = "sector"\ntext = "Sector <b>?"', "text", "< or >", "without < or >"),
        ('id = "sector"\ntext = "Sector?"\nrequired = "yes"', "required", "must be true or false", "true or false"),
        ('id = "sector"\ntext = "Sector?"\ntype = "choice"\nchoices = ["A", "A"]', "choices[1]", "twice", "once"),
        ('id = "sector"\ntext = "Sector?"\ntype = "choice"\nchoices = []', "choices", "is empty", "list the answers"),
        ('id = "sector"\ntext = "Sector?"\ncolour = "x"', "colour", "unknown key", "allowed keys"),
    ],
)
def test_a_wrong_question_is_refused_with_its_line_and_the_fix(question, field, message, fix):
    text = SAMPLE_DEFINITION.read_text(encoding="utf-8")
    first_line = text.count("\n") + 3  # the blank line, then the table's header, then its first key
    [problem] = problems_of(f"{text}\n[[registration.questions]]\n{question}\n")

    assert problem.field == f"registration.questions[0].{field}"
    assert message in problem.message
    assert fix in problem.fix
    # the key's own line; a missing key, its table's header
    assert first_line - 1 <= problem.line <= first_line + question.count("\n")
    assert problem.source == "webinar.toml"


def test_two_questions_with_one_id_or_one_text_are_refused():
    twice = (
        '\n[[registration.questions]]\nid = "a"\ntext = "Same?"\n[[registration.questions]]\nid = "a"\ntext = "B?"\n'
    )
    same_text = (
        '\n[[registration.questions]]\nid = "a"\ntext = "Same?"\n[[registration.questions]]\nid = "b"\ntext = "Same?"\n'
    )

    [by_id] = problems_of(SAMPLE_DEFINITION.read_text(encoding="utf-8") + twice)
    [by_text] = problems_of(SAMPLE_DEFINITION.read_text(encoding="utf-8") + same_text)

    assert by_id.field == "registration.questions[1].id"
    assert "'a' is given twice" in by_id.message
    assert by_text.field == "registration.questions[1].text"


def test_no_question_id_can_take_a_column_of_the_registrants():
    assert set(FIELDS) <= set(RESERVED_QUESTION_IDS)


# -- the rules of an answer ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "question", "message"),
    [
        ({**GOOD, "hope": "<script>x</script>"}, "hope", "< or >"),
        ({**GOOD, "hope": "two\nlines"}, "hope", "line break"),
        ({**GOOD, "hope": "x" * 129}, "hope", "longer than 128"),
        ({**GOOD, "sector": "Army"}, "sector", "not one of the choices"),
        ({**GOOD, "sector": ""}, "sector", "is not answered"),
        ({"sector": "Academia"}, "consent", "must be ticked"),
        ({**GOOD, "consent": "maybe"}, "consent", "not yes or no"),
        ({**GOOD, "shoe_size": "44"}, "shoe_size", "not one of this webinar's questions"),
    ],
)
def test_an_answer_breaking_a_rule_is_refused(given, question, message):
    questions = parse_definition(definition_text(), "webinar.toml").registration.questions
    _, problems = check_answers(questions, given)

    assert [name for name, _ in problems] == [question]
    assert message in problems[0][1]


def test_answers_are_kept_as_the_rules_write_them():
    questions = parse_definition(definition_text(), "webinar.toml").registration.questions
    answers, problems = check_answers(questions, {"sector": " Academia ", "hope": "  Open   data ", "consent": "Y"})

    assert problems == []
    assert {a.question.id: a.value for a in answers} == {"sector": "Academia", "hope": "Open data", "consent": "yes"}
