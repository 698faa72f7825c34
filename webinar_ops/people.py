"""A person to register: who they are, as the organiser or the person gave them, checked.

One type for everywhere a person travels before and after they are stored: an import, the
registration page, the command line, and what a provider is asked to register (a provider
may ignore what it has no field for, such as the time zone).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from webinar_ops import times, validate
from webinar_ops.definition import RegistrationQuestion

FIELDS = ("email", "first_name", "last_name", "organisation", "job_title", "country", "time_zone", "language")
REQUIRED_FIELDS = ("email", "first_name")


@dataclass(frozen=True)
class Answer:
    """A person's answer to one of the registration's questions, checked by its rules."""

    question: RegistrationQuestion
    value: str


@dataclass(frozen=True)
class Person:
    """A validated person to register, as the organiser (or they themselves) gave them."""

    email: str
    first_name: str
    last_name: str | None = None
    organisation: str | None = None
    job_title: str | None = None
    country: str | None = None
    time_zone: str | None = None
    language: str | None = None
    answers: tuple[Answer, ...] = ()  # to the webinar's registration questions, in their order

    def answer_values(self) -> dict[str, str]:
        """The answers as {question id: answer}."""
        return {answer.question.id: answer.value for answer in self.answers}

    def fields(self) -> dict[str, str | None]:
        """The person as {field: value}, in the order of FIELDS."""
        # Not dataclasses.asdict, which copies each value deeply: an import calls this per person.
        return {name: getattr(self, name) for name in FIELDS}


def check_person(values: dict[str, str | None]) -> tuple[Person | None, list[tuple[str, str]]]:
    """Validate raw values; return the Person, or None and a (field, message) per problem."""
    cleaned: dict[str, str | None] = {}
    problems: list[tuple[str, str]] = []
    for name in FIELDS:
        raw = values.get(name)
        if raw is None or not raw.strip():
            if name in REQUIRED_FIELDS:
                problems.append((name, "is empty"))
            cleaned[name] = None
            continue
        try:
            cleaned[name] = _CHECKS[name](raw)
        except ValueError as exc:
            problems.append((name, str(exc)))
    if problems:
        return None, problems
    return Person(**cleaned), []


def checked_field(name: str, value: str) -> str:
    """`value` for the person's field `name` as an import keeps it; raises ValueError saying
    what is wrong."""
    return _CHECKS[name](value)


def _time_zone(value: str) -> str:
    name = value.strip()
    times.zone(name)
    return name


_CHECKS = {
    "email": validate.email_address,
    "first_name": lambda v: validate.person_name(v, "first name"),
    "last_name": lambda v: validate.person_name(v, "last name"),
    "organisation": lambda v: validate.person_text(v, "organisation"),
    "job_title": lambda v: validate.person_text(v, "job title"),
    "country": validate.country,
    "time_zone": _time_zone,
    "language": validate.language,
}


def check_answers(
    questions: Iterable[RegistrationQuestion],
    given: Mapping[str, str | None],
    stored: Mapping[str, str] | None = None,
) -> tuple[tuple[Answer, ...], list[tuple[str, str]]]:
    """Check the answers `given` (by question id) to `questions`, each by its question's rules
    (`RegistrationQuestion.check`); a question not given keeps its `stored` answer, and must
    then have one if it is required. Returns the answers in the questions' order, and a
    (question id, message) per problem; an id that names no question is one."""
    questions = tuple(q for q in questions if not q.person_field)  # those are a person's fields
    known = {question.id for question in questions}
    problems = [
        (name, _NOT_ASKED.get(name, "is not one of this webinar's questions")) for name in given if name not in known
    ]
    answers = []
    for question in questions:
        if question.id not in given and (stored or {}).get(question.id) is not None:
            answers.append(Answer(question, stored[question.id]))
            continue
        try:
            value = question.check(given.get(question.id))
        except ValueError as exc:
            problems.append((question.id, str(exc)))
            continue
        if value is not None and (question.id in given or question.type != "checkbox"):
            answers.append(Answer(question, value))
    return tuple(answers), problems


def stored_answers(questions: Iterable[RegistrationQuestion], values: Mapping[str, str]) -> tuple[Answer, ...]:
    """The answers a store keeps (checked when they came in), to the questions still asked."""
    return tuple(Answer(q, values[q.id]) for q in questions if values.get(q.id) is not None)


_NOT_ASKED = dict.fromkeys(FIELDS, "is a field of the person, not an answer: give it as such")


def missing_fields(
    questions: Iterable[RegistrationQuestion], values: Mapping[str, str | None]
) -> list[tuple[str, str]]:
    """The person's own fields that a required question asks for (`organisation`, …) and that
    `values` leave empty, as (field, message)."""
    return [
        (q.person_field, "is required for this webinar")
        for q in questions
        if q.person_field and q.required and not (values.get(q.person_field) or "").strip()
    ]
