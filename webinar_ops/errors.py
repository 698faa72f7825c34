"""The errors webinar-ops reports to people, and how they are worded.

Two kinds reach the command line: `InputError` (the person gave us something we refuse;
exit code 2) and `OperationError` (we tried and it did not work; exit code 1). Both carry
text meant for the organiser, never a traceback and never a secret.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One mistake in an input: where it is, what is wrong, and how to fix it."""

    source: str
    message: str
    line: int | None = None
    field: str | None = None
    fix: str | None = None

    def __str__(self) -> str:
        place = self.source if self.line is None else f"{self.source}:{self.line}"
        what = f"{self.field}: {self.message}" if self.field else self.message
        text = f"{place}: {what}"
        return f"{text}\n    fix: {self.fix}" if self.fix else text


class WebinarOpsError(Exception):
    """Base of every error that is worded for a person."""

    exit_code = 1


class InputError(WebinarOpsError):
    """Input was refused; nothing was changed. Carries every problem found, not just the first."""

    exit_code = 2

    def __init__(self, summary: str, problems: list[Problem] | tuple[Problem, ...] = ()):
        self.summary = summary
        self.problems = tuple(problems)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "\n".join([self.summary, *(str(p) for p in self.problems)])


class OperationError(WebinarOpsError):
    """An operation was attempted and failed; the message says what to do about it."""

    exit_code = 1


class NotFound(InputError):
    """The organiser named something (a webinar, a registrant) that is not in the database."""

    def __init__(self, summary: str):
        super().__init__(summary)
