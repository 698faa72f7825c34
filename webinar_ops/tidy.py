"""Copy and tidy: people carried over to a postponed or follow-on session, and a test webinar
removed with everything that belongs to it.

A copy only adds registrants to the target webinar: its own provider registers them at its
next sync and its own plan sends them its confirmation, once, as for anyone added by hand.
Nothing is said about the old webinar. Copying twice adds nobody twice.

A deletion is one transaction: the webinar's rows, its registrants' and theirs at the local
provider go together or not at all. A webinar that webinar-ops created at its provider is
deleted there too, within that transaction, so that a refusal there leaves everything here;
one it was attached to (`[provider] webinar_id`) is the host's and is left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from webinar_ops.definition import RegistrationQuestion
from webinar_ops.errors import InputError, OperationError
from webinar_ops.mail.outbox import Outbox
from webinar_ops.people import Answer
from webinar_ops.providers import Provider, ProviderError
from webinar_ops.registrants import require_registration_open
from webinar_ops.store import NewRegistrant, Store, WebinarRecord

COPYABLE_STATUSES = ("approved", "pending")


@dataclass
class CopyReport:
    """What `copy_registrants` did: who was added (and which of them the target's capacity put
    on its waitlist), who the target already had (with their status there), and the warning
    when the target's registration is not open."""

    added: list[str] = field(default_factory=list)
    waitlisted: list[str] = field(default_factory=list)
    already: list[tuple[str, str]] = field(default_factory=list)
    warning: str | None = None


def copy_registrants(
    store: Store, origin: WebinarRecord, target: WebinarRecord, status: str, now: datetime, force: bool = False
) -> CopyReport:
    """Register the people of `origin` in `status` for `target`, as they were registered
    (names, zone, language, where they came from, their answers to the questions the target
    asks too), in `status` there too, in one transaction; the target's capacity may put some
    on its waitlist. People `target` holds in any status are reported and left as they are.
    Outside the target's registration window this needs `force`, as `registrants add` does."""
    if origin.id == target.id:
        raise InputError(f"{origin.slug} is both the webinar to copy from and the one to copy to: name two webinars.")
    if status not in COPYABLE_STATUSES:
        raise InputError(f"Only {' or '.join(COPYABLE_STATUSES)} registrants can be copied, not {status}.")
    target.require_not_cancelled("registrants can be added")
    report = CopyReport()
    with store.transaction():
        held = {row.email: row.status for row in store.registrants(target.id)}
        people = store.registrants(origin.id, "status = ?", [status])
        new = [row for row in people if row.email not in held]
        report.already = [(row.email, held[row.email]) for row in people if row.email in held]
        if new:
            report.warning = require_registration_open(target, now, force)
        answers = store.answers_of([row.id for row in new])
        questions = target.definition.registration.questions
        store.add_registrants(
            (
                NewRegistrant(
                    webinar_id=target.id,
                    person=replace(row.person, answers=carried_answers(questions, answers.get(row.id, {}))),
                    status=row.status,
                    source="cli",
                    tracking_source=row.tracking_source,
                )
                for row in new
            ),
            now,
        )
        report.added = [row.email for row in new]
        waiting = {row.email for row in store.registrants(target.id, "status = 'waitlisted'")}
        report.waitlisted = [email for email in report.added if email in waiting]
    return report


def carried_answers(questions: tuple[RegistrationQuestion, ...], stored: Mapping[str, str]) -> tuple[Answer, ...]:
    """The answers kept for another webinar (by question id) to those of `questions` that
    ask the same id, where they hold to its rules too (its choices may differ); the rest are
    left for the person to give again."""
    carried = []
    for question in questions:
        if question.person_field or stored.get(question.id) is None:
            continue  # a field of the person travels with the person
        try:
            value = question.check(stored[question.id])
        except ValueError:
            continue
        if value is not None:
            carried.append(Answer(question, value))
    return tuple(carried)


@dataclass
class DeleteReport:
    """What `delete_webinar` removed: rows by table, and what became of it at the provider."""

    removed: dict[str, int]
    at_provider: str


def mails_sent(store: Store, webinar: WebinarRecord) -> int:
    """How many of the webinar's mails have gone out."""
    return sum(states.get("sent", 0) for states in Outbox(store).counts(webinar.id).values())


def require_deletable(store: Store, webinar: WebinarRecord, force: bool) -> None:
    """Refuse (InputError) to delete a webinar that has sent mail, unless `force`: its
    registrants were told about it, so it is no test webinar."""
    sent = mails_sent(store, webinar)
    if sent and not force:
        raise InputError(
            f"{webinar.slug} has sent {sent} mail{'s' if sent != 1 else ''} to its registrants, so it is not a test "
            "webinar: nothing was deleted. Cancel it (`webinar cancel`) to tell them, or add --force to delete it "
            "all the same."
        )


def delete_webinar(
    store: Store, webinar: WebinarRecord, provider: Callable[[], Provider], force: bool = False
) -> DeleteReport:
    """Remove `webinar` and everything that belongs to it, in one transaction. A webinar that
    has sent mail is refused unless `force` (its registrants were told about it). `provider`
    gives the webinar's provider, asked for only when there is something to delete there."""
    require_deletable(store, webinar, force)
    at_provider = _provider_part(webinar)
    with store.transaction():
        if at_provider == "deleted":
            hosted = provider()
            try:
                hosted.delete_webinar(webinar.provider_webinar_id)
            except ProviderError as exc:
                raise OperationError(
                    f"{hosted.name} did not delete the webinar {webinar.slug}: {exc}; nothing was deleted"
                ) from exc
        removed = store.delete_webinar(webinar)
    return DeleteReport(removed=removed, at_provider=at_provider)


def _provider_part(webinar: WebinarRecord) -> str:
    """What the deletion does at the provider: `deleted` for a webinar webinar-ops created
    there; `not published` when the provider never held it; `left alone` for the host's own."""
    if webinar.provider_webinar_id is None:
        return "not published"
    if not webinar.definition.provider.creates:
        return "left alone"
    return "deleted"
