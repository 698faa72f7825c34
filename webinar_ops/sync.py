"""Keeping the store and the provider in step.

`sync_webinar` publishes the webinar to its provider (creating or updating it), makes its
speakers panelists (and removes those taken out of the programme), sends the
organiser's decisions (approvals, denials) that the provider does not hold yet, pulls in
people who signed up on the provider's own page, registers the people who are not
registered yet, in batches, and tells the provider about cancellations. Each batch is committed as
soon as the provider answers, and a refusal for one person is recorded against that person
alone. Running it twice in a row changes nothing the second time.

After the end, `pull_attendance` asks the provider who attended, until it knows or a week
has passed.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from webinar_ops import times, validate
from webinar_ops.attendance import match
from webinar_ops.definition import PERSON_QUESTIONS, RegistrationQuestion
from webinar_ops.errors import OperationError
from webinar_ops.people import Answer, Person, checked_field, stored_answers
from webinar_ops.providers import (
    AttendanceNotReady,
    HeldRegistrant,
    NewPanelist,
    PanelistResult,
    Provider,
    ProviderError,
    Registration,
    RemoteRegistrant,
    chunks,
)
from webinar_ops.registrants import cancel_person
from webinar_ops.store import (
    REGISTRANT_STATUSES,
    AttendanceFigures,
    NewRegistrant,
    Registrant,
    SpeakerRecord,
    Store,
    WebinarRecord,
)

log = logging.getLogger("webinar_ops.sync")
PULL_CHUNK = 500  # people taken in from the provider's list at a time
Progress = Callable[[int, int], None]
"""Called with (people done so far, people to do) as a long sync advances."""


@dataclass
class SyncReport:
    """What one sync did."""

    published: str | None = None
    registered: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    deferred: int = 0
    cancelled: int = 0
    decided: int = 0  # decisions the provider took from here (approvals, denials)
    pulled_new: int = 0
    pulled_updated: int = 0
    webinar_cancelled: bool = False
    panelists_added: int = 0
    panelists_removed: int = 0
    # (address, why) of each speaker the provider did not take, or did not let go, as a panelist
    panelists_refused: list[tuple[str, str]] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return bool(
            self.published not in (None, "unchanged", "waiting")
            or self.registered
            or self.cancelled
            or self.decided
            or self.pulled_new
            or self.pulled_updated
            or self.webinar_cancelled
            or self.panelists_added
            or self.panelists_removed
        )


def sync_webinar(
    store: Store, provider: Provider, webinar: WebinarRecord, now: datetime, progress: Progress | None = None
) -> SyncReport:
    """Bring the provider and the store into step for one webinar. For a cancelled one, that
    is only to cancel it at the provider."""
    report = SyncReport()
    if webinar.cancelled_at:
        report.webinar_cancelled = cancel_webinar_at_provider(store, provider, webinar, now)
        return report
    webinar, report.published = publish_webinar(store, provider, webinar, now)
    sync_panelists(store, provider, webinar, now, report)
    # Before the pull: the organiser's decision here is the newer word, and the pull would
    # otherwise take the provider's older status back.
    push_decisions(store, provider, webinar, now, report)
    # Pulling first adopts the registration of anyone who also signed up on the provider's
    # own page, so they are not registered a second time.
    pull_registrants(store, provider, webinar, now, report)
    register_waiting(store, provider, webinar, now, report, progress)
    report.cancelled = push_cancellations(store, provider, webinar, now)
    return report


def sync_panelists(store: Store, provider: Provider, webinar: WebinarRecord, now: datetime, report: SyncReport) -> None:
    """Make every speaker with an address a panelist at the provider, with a join link of their
    own, and remove as panelists the speakers taken out of the programme (a new address is a
    new person: the old one is removed). Only who is not in step is sent: a second sync makes
    no call at all (each Zoom call counts against its rate limits). A refusal is recorded
    against that speaker alone, and the next sync tries again. Nothing happens before the
    provider holds the webinar, nor with a provider that has no panelists.

    When the webinar was compared with the provider's copy (`sync --republish`, or a change
    the provider must hear of), the provider's panelists are listed too: a speaker it no longer
    holds (removed on its site) is made a panelist again, and a link it changed is taken."""
    if webinar.provider_webinar_id is None or not callable(getattr(provider, "add_panelists", None)):
        return
    if report.published in ("updated", "unchanged"):
        _take_the_providers_panelists(store, provider, webinar, now)
    speakers = store.speakers(webinar.id, removed=True)
    # Removals first: the provider's limit on panelists must not refuse a newcomer for a leaver.
    for speaker in speakers:
        if speaker.panelist_id and (speaker.is_removed or not speaker.email):
            _remove_panelist(store, provider, webinar, speaker, now, report)
    waiting = [s for s in speakers if s.email and not s.is_removed and not s.panelist_id]
    for batch in chunks(waiting, provider.batch_size):
        results = _add_panelists(provider, webinar, batch)
        _record_panelists(store, batch, results, now, report)


def _take_the_providers_panelists(store: Store, provider: Provider, webinar: WebinarRecord, now: datetime) -> None:
    """Bring the stored panelists in line with the provider's list: one it does not hold any
    more waits to be added again, one whose link it changed gets the new link."""
    try:
        held = {panelist.panelist_id: panelist for panelist in provider.panelists(webinar.provider_webinar_id)}
    except ProviderError as exc:
        # The stored standing is kept; the next comparison lists them again.
        log.warning("%s would not list the panelists of %s: %s", provider.name, webinar.slug, exc)
        return
    with store.transaction():
        for speaker in store.speakers(webinar.id):
            if not speaker.panelist_id:
                continue
            listed = held.get(speaker.panelist_id)
            if listed is None:
                store.set_panelist(speaker.id, None, None, now)
            elif listed.join_url and listed.join_url != speaker.join_url:
                store.set_panelist(speaker.id, listed.panelist_id, listed.join_url, now)


def _remove_panelist(
    store: Store, provider: Provider, webinar: WebinarRecord, speaker: SpeakerRecord, now: datetime, report: SyncReport
) -> None:
    try:
        provider.remove_panelist(webinar.provider_webinar_id, speaker.panelist_id, speaker.email or "")
    except ProviderError as exc:
        store.set_panelist_error(speaker.id, f"removal: {exc}", now)
        report.panelists_refused.append((speaker.email or speaker.name, f"removal: {exc}"))
        return
    store.set_panelist(speaker.id, None, None, now)
    report.panelists_removed += 1


def _add_panelists(provider: Provider, webinar: WebinarRecord, batch: Sequence[SpeakerRecord]) -> list[PanelistResult]:
    speakers = [NewPanelist(speaker.email, speaker.name) for speaker in batch]
    try:
        results = provider.add_panelists(webinar.provider_webinar_id, speakers)
    except ProviderError as exc:
        return [PanelistResult(speaker.email, error=str(exc)) for speaker in speakers]
    if len(results) != len(batch):  # a provider's mistake must not give one speaker another's link
        return [
            PanelistResult(speaker.email, error="the provider gave no answer for this speaker") for speaker in speakers
        ]
    return results


def _record_panelists(
    store: Store, batch: Sequence[SpeakerRecord], results: list[PanelistResult], now: datetime, report: SyncReport
) -> None:
    with store.transaction():
        for speaker, result in zip(batch, results, strict=True):
            if result.ok and result.panelist_id:
                store.set_panelist(speaker.id, result.panelist_id, result.join_url, now)
                report.panelists_added += 1
            else:
                why = result.error or "the provider gave no panelist id for this speaker"
                store.set_panelist_error(speaker.id, why, now)
                report.panelists_refused.append((speaker.email, why))


def cancel_webinar_at_provider(store: Store, provider: Provider, webinar: WebinarRecord, now: datetime) -> bool:
    """Cancel the webinar at its provider, once; True when it was cancelled now. A refusal
    is recorded and raised as an OperationError; the next sync tries again."""
    if webinar.provider_webinar_id is None or webinar.provider_cancelled_at:
        return False
    try:
        provider.cancel_webinar(webinar.provider_webinar_id)
    except ProviderError as exc:
        store.set_provider_error(webinar, f"cancelling: {exc}", None)
        raise OperationError(f"{provider.name} did not cancel the webinar {webinar.slug}: {exc}") from exc
    store.set_provider_cancelled(webinar, now)
    return True


def publish_webinar(
    store: Store, provider: Provider, webinar: WebinarRecord, now: datetime
) -> tuple[WebinarRecord, str | None]:
    """Create the webinar at the provider, or update it if its time or title changed.

    Returns the refreshed record and `created`, `updated`, `unchanged`, `waiting` or None.
    After a daily limit, the provider is not asked again before the limit resets; a webinar
    the provider already holds is only `waiting`, and its registrations go on meanwhile.
    """
    if not webinar.needs_publishing:
        return webinar, None
    if webinar.provider_retry_after and times.iso_utc(now) < webinar.provider_retry_after:
        if webinar.provider_webinar_id:
            return webinar, "waiting"
        raise OperationError(
            f"{provider.name} is not asked about {webinar.slug} again before {webinar.provider_retry_after}: "
            f"{webinar.provider_error}"
        )
    choice = webinar.definition.provider
    target = webinar.provider_webinar_id or (None if choice.creates else choice.webinar_id)
    try:
        hosted = provider.publish(webinar.definition, target)
    except ProviderError as exc:
        retry_after = getattr(exc, "retry_after", None)
        store.set_provider_error(webinar, str(exc), times.iso_utc(retry_after) if retry_after else None)
        if retry_after and webinar.provider_webinar_id:
            return store.webinar(webinar.slug), "waiting"
        raise OperationError(f"{provider.name} did not publish the webinar {webinar.slug}: {exc}") from exc
    store.set_hosted(webinar, hosted.webinar_id, hosted.join_url, hosted.registration_url)
    if hosted.problem:
        # Held, so registrations go on; published again at the next sync, to finish it.
        log.warning("%s holds %s, but %s", provider.name, webinar.slug, hosted.problem)
        store.set_provider_error(webinar, hosted.problem)
        store.republish(webinar)
    outcome = "created" if target is None else "updated" if hosted.updated else "unchanged"
    return store.webinar(webinar.slug), outcome


def register_waiting(
    store: Store,
    provider: Provider,
    webinar: WebinarRecord,
    now: datetime,
    report: SyncReport,
    progress: Progress | None,
) -> None:
    """Register every active person the provider does not hold yet, batch by batch."""
    report.deferred = store.unregistered_count(webinar.id, now, deferred=True)
    waiting = store.unregistered_count(webinar.id, now)
    done = 0
    for status in ("approved", "pending"):
        page_size = provider.batch_size * max(1, PULL_CHUNK // provider.batch_size)
        for page in store.due_for_registration(webinar.id, status, now, page_size):
            for batch in chunks(page, provider.batch_size):
                results = _register_batch(store, provider, webinar, batch, approve=status == "approved")
                _record_registrations(store, batch, results, now, report)
                done += len(batch)
                if progress:
                    progress(done, waiting)


def _register_batch(
    store: Store, provider: Provider, webinar: WebinarRecord, batch: list[Registrant], approve: bool
) -> list[Registration]:
    people = people_with_answers(store, webinar, batch)
    try:
        results = provider.register(webinar.provider_webinar_id, people, approve)
    except ProviderError as exc:
        retry_after = getattr(exc, "retry_after", None)
        return [Registration(p.email, error=str(exc), retry_after=retry_after) for p in people]
    by_email = {result.email: result for result in results}
    missing = "the provider gave no answer for this person"
    return [by_email.get(p.email, Registration(p.email, error=missing)) for p in people]


def people_with_answers(store: Store, webinar: WebinarRecord, rows: list[Registrant]) -> list[Person]:
    """The people of `rows`, each with their stored answers to the questions the webinar asks."""
    questions = webinar.definition.registration.questions
    if not questions:
        return [row.person for row in rows]
    answers = store.answers_of([row.id for row in rows])
    return [replace(row.person, answers=stored_answers(questions, _asked(row, answers))) for row in rows]


def _asked(row: Registrant, answers: dict[int, dict[str, str]]) -> dict[str, str]:
    """The row's answers, and its own fields that questions ask for (`organisation`, …): a
    provider sends them with the answers (Zoom: as its own fields, one by one, not in batches)."""
    fields = {name: getattr(row, name) for name in PERSON_QUESTIONS if getattr(row, name)}
    return {**answers.get(row.id, {}), **fields}


def _record_registrations(
    store: Store, batch: list[Registrant], results: list[Registration], now: datetime, report: SyncReport
) -> None:
    with store.transaction():
        for row, result in zip(batch, results, strict=True):
            if result.ok:
                report.registered += 1
                store.update_registrant(row.id, _registered_fields(result), now)
            else:
                report.failed.append((row.email, result.error))
                retry = times.iso_utc(result.retry_after) if result.retry_after else None
                store.update_registrant(row.id, {"sync_error": result.error, "sync_retry_after": retry}, now)


def _registered_fields(result: Registration) -> dict:
    fields = {
        "provider_registrant_id": result.registrant_id,
        "provider_status": result.status,
        "join_url": result.join_url,
        "sync_error": None,
        "sync_retry_after": None,
    }
    if result.status in ("approved", "denied"):
        fields["status"] = result.status
    return fields


def push_cancellations(store: Store, provider: Provider, webinar: WebinarRecord, now: datetime) -> int:
    """Tell the provider about people cancelled here; returns how many it accepted."""
    rows = store.registrants(
        webinar.id,
        "status = 'cancelled' AND provider_registrant_id IS NOT NULL AND coalesce(provider_status, '') != 'cancelled'",
    )
    return sum(cancel_at_provider(store, provider, webinar, row, now) for row in rows)


def push_decisions(store: Store, provider: Provider, webinar: WebinarRecord, now: datetime, report: SyncReport) -> None:
    """Send the provider the approvals and denials made here that it does not hold yet, a
    batch at a time. A refusal is recorded against that person (`sync_error`, and when to try
    again if the provider said) and the next sync tries again; nobody else waits for it."""
    for status in ("approved", "denied"):
        for batch in store.decisions_to_send(webinar.id, status, now, provider.batch_size):
            results = _decide_batch(provider, webinar, batch, approved=status == "approved")
            _record_decisions(store, batch, results, now, report)


def _decide_batch(
    provider: Provider, webinar: WebinarRecord, batch: list[Registrant], approved: bool
) -> list[Registration]:
    held = [HeldRegistrant(row.email, row.provider_registrant_id, row.provider_status) for row in batch]
    try:
        results = provider.decide(webinar.provider_webinar_id, held, approved)
    except ProviderError as exc:
        retry_after = getattr(exc, "retry_after", None)
        return [Registration(row.email, error=str(exc), retry_after=retry_after) for row in batch]
    if len(results) != len(batch):  # a provider's mistake must not pair one person with another's outcome
        return [Registration(row.email, error="the provider gave no answer for this person") for row in batch]
    return results


def _record_decisions(
    store: Store, batch: list[Registrant], results: list[Registration], now: datetime, report: SyncReport
) -> None:
    with store.transaction():
        for row, result in zip(batch, results, strict=True):
            if result.ok:
                report.decided += 1
                changes = {"provider_status": result.status, "sync_error": None, "sync_retry_after": None}
                store.update_registrant(row.id, changes, now)
            else:
                report.failed.append((row.email, f"decision: {result.error}"))
                retry = times.iso_utc(result.retry_after) if result.retry_after else None
                store.update_registrant(
                    row.id, {"sync_error": f"decision: {result.error}", "sync_retry_after": retry}, now
                )


def cancel_at_provider(
    store: Store, provider: Provider, webinar: WebinarRecord, row: Registrant, now: datetime
) -> bool:
    """Cancel one registration at the provider. A failure is recorded and retried next sync."""
    try:
        provider.cancel(webinar.provider_webinar_id, row.provider_registrant_id, row.email)
    except ProviderError as exc:
        store.update_registrant(row.id, {"sync_error": f"cancellation: {exc}"}, now)
        return False
    store.update_registrant(row.id, {"provider_status": "cancelled", "sync_error": None}, now)
    return True


def pull_registrants(
    store: Store, provider: Provider, webinar: WebinarRecord, now: datetime, report: SyncReport
) -> None:
    """Take in people who registered on the provider's side, and status changes made there,
    a chunk of the provider's list at a time (so a webinar of any size costs little memory)."""
    listing = iter(provider.registrants(webinar.provider_webinar_id))
    while True:
        # Each chunk is listed before its transaction opens: the provider may take seconds,
        # and senders must not wait for the write lock meanwhile.
        try:
            chunk = list(itertools.islice(listing, PULL_CHUNK))
        except ProviderError as exc:
            raise OperationError(f"{provider.name} would not list the registrants of {webinar.slug}: {exc}") from exc
        if not chunk:
            return
        _take_in(store, webinar, chunk, now, report)


def _take_in(store: Store, webinar: WebinarRecord, listed: list, now: datetime, report: SyncReport) -> None:
    usable = {}
    for remote in listed:
        email = provider_address(remote)
        if email is None:
            report.failed.append((remote.email, UNUSABLE_ADDRESS))
            continue
        if remote.status in REGISTRANT_STATUSES:
            usable.setdefault(email, remote)
    with store.transaction():
        known = _known(store, webinar, list(usable))
        new = [pulled_registrant(webinar, email, remote) for email, remote in usable.items() if email not in known]
        stored = (
            store.answers_of([row.id for row in known.values()]) if webinar.definition.registration.questions else {}
        )
        for email, row in known.items():
            changes = remote_changes(row, usable[email])
            if changes:
                store.update_registrant(row.id, changes, now)
            answers = _new_answers(webinar, usable[email], stored.get(row.id, {}))
            if answers:
                store.save_answers(row.id, answers)
            if changes or answers:
                report.pulled_updated += 1
        store.add_registrants(new, now)
    report.pulled_new += len(new)


UNUSABLE_ADDRESS = "the provider holds an address webinar-ops cannot use"


def provider_address(remote: RemoteRegistrant) -> str | None:
    """The address of someone the provider holds, as the store keeps it; None when it is not
    one webinar-ops can use (the provider's checks are not ours)."""
    try:
        return validate.email_address(remote.email)
    except ValueError:
        return None


def _known(store: Store, webinar: WebinarRecord, emails: list[str]) -> dict[str, Registrant]:
    marks = ", ".join("?" * len(emails))
    return {row.email: row for row in store.registrants(webinar.id, f"email IN ({marks})", emails)} if emails else {}


def pulled_registrant(webinar: WebinarRecord, email: str, remote: RemoteRegistrant) -> NewRegistrant:
    """The new registrant for someone the provider holds and the store does not (they
    signed up on the provider's own page): their names checked, the provider's status."""
    first_name, last_name = _pulled_names(webinar, email, remote)
    person = Person(
        email=email,
        first_name=first_name,
        last_name=last_name,
        language=remote.language,
        answers=pulled_answers(webinar, remote),
        **_pulled_fields(webinar, remote),
    )
    return NewRegistrant(
        webinar_id=webinar.id,
        person=person,
        status=arriving_status(webinar, remote.status),
        source="provider",
        provider_registrant_id=remote.registrant_id,
        provider_status=remote.status,
        join_url=remote.join_url,
        tracking_source=remote.tracking_source,
    )


def pulled_answers(webinar: WebinarRecord, remote: RemoteRegistrant) -> tuple[Answer, ...]:
    """What someone the provider holds answered to the webinar's questions, each held to the
    rules for answers typed here (the provider's page checks other things): a refused answer
    is left out and logged, the person kept. Missing ones are the provider's form's business."""
    answers = []
    for question in webinar.definition.registration.questions:
        if question.person_field:
            continue  # a field of the person, such as the organisation: not an answer of its own
        given = _remote_answer(question, remote.answers)
        if given is None or not given.strip():
            continue
        try:
            value = question.check(given)
        except ValueError:
            # Not the reason: for a choice it repeats the answer, and answers stay out of logs.
            _log_replaced(webinar, remote, f"the answer to {question.id!r} breaks the rules of answers", "nothing")
            continue
        if value is not None:
            answers.append(Answer(question, value))
    return tuple(answers)


def _remote_answer(question: RegistrationQuestion, answers: dict[str, str]) -> str | None:
    value = answers.get(question.id)
    return value if value is not None else answers.get(question.text)


def _new_answers(webinar: WebinarRecord, remote: RemoteRegistrant, stored: dict[str, str]) -> dict[str, str]:
    """The answers the provider holds that the store has none for: an answer given here wins."""
    if not remote.answers:
        return {}
    pulled = {answer.question.id: answer.value for answer in pulled_answers(webinar, remote)}
    return {key: value for key, value in pulled.items() if key not in stored}


def arriving_status(webinar: WebinarRecord, status: str) -> str:
    """The status here of someone who signed up on the provider's page, where they are in
    `status`. Under a capacity the provider approves nobody by itself (docs/zoom.md): they
    wait there as pending for webinar-ops to give them a seat, which automatic approval
    gives at once when one is free (the store waitlists them otherwise)."""
    d = webinar.definition
    if status == "pending" and d.registration.capacity is not None and d.provider.approval == "automatic":
        return "approved"
    return status


@dataclass
class Cancellation:
    """What `cancel_registration` did: the registration as it was, whether it was cancelled
    already, whether the provider was told, who the freed seat promoted, and the provider's
    refusals to register them ((address, why): the next sync tries again)."""

    registrant: Registrant
    already: bool = False
    told_provider: bool = False
    promoted: list[Registrant] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def cancel_registration(
    store: Store, provider: Provider | None, webinar: WebinarRecord, email: str, now: datetime
) -> Cancellation:
    """Cancel one registration as every entry point does (`registrants cancel`, the cancel
    page): here, where the seat rule gives the freed seat to the first in line; then at the
    provider, which also registers whoever was promoted, so their confirmation can go at once.
    With no provider at hand (None) or one that refuses, the next sync tells it; the
    cancellation here stands. The caller plans the webinar after."""
    waiting = store.waitlist(webinar.id)
    row = cancel_person(store, webinar, email, now)
    if row.is_cancelled:
        return Cancellation(row, already=True)
    cancellation = Cancellation(row)
    if provider is not None and row.provider_registrant_id is not None:
        cancellation.told_provider = cancel_at_provider(store, provider, webinar, row, now)
    seated = (store.registrant_by_id(person.id) for person in waiting)
    cancellation.promoted = [person for person in seated if person is not None and person.status == "approved"]
    if provider is not None and cancellation.promoted:
        cancellation.failed = register_promoted(store, provider, webinar, now).failed
    return cancellation


def register_promoted(store: Store, provider: Provider, webinar: WebinarRecord, now: datetime) -> SyncReport:
    """Register with the provider, now, the people a freed seat just promoted (and anyone
    else waiting to be registered), so that their confirmation can go at once rather than
    after the next sync. Nothing happens before the webinar is at the provider."""
    report = SyncReport()
    if webinar.provider_webinar_id is not None and not webinar.cancelled_at:
        register_waiting(store, provider, webinar, now, report, None)
    return report


def _pulled_names(webinar: WebinarRecord, email: str, remote: RemoteRegistrant) -> tuple[str, str | None]:
    """The first and last name of someone the provider holds, held to the checks of names
    typed here: the provider's page checks none of them, and the names go into signed mail.
    A refused name is replaced, and the replacement logged, rather than the person dropped:
    the first name by the part of their address before the @ (itself checked, else empty)."""
    first_name, first_refusal = _checked_name(remote.first_name, "first name")
    last_name, last_refusal = _checked_name(remote.last_name, "last name")
    if first_name is None:
        first_name = _checked_name(email.split("@")[0], "first name")[0] or ""
    if first_refusal:
        replacement = "the part of their address before the @" if first_name else "nothing"
        _log_replaced(webinar, remote, first_refusal, replacement)
    if last_refusal:
        _log_replaced(webinar, remote, last_refusal, "nothing")
    return first_name, last_name


def _pulled_fields(webinar: WebinarRecord, remote: RemoteRegistrant) -> dict[str, str]:
    """The organisation, job title and country the provider's form took, each held to the
    rules of an import; a refused one is left out and logged, the person kept."""
    fields = {}
    for name in PERSON_QUESTIONS:
        given = getattr(remote, name)
        if given is None:
            continue
        try:
            fields[name] = checked_field(name, given)
        except ValueError:
            # Not the reason: it may repeat the value, and the person's data stays out of logs.
            _log_replaced(webinar, remote, f"their {name.replace('_', ' ')} breaks the rules of an import", "nothing")
    return fields


def _checked_name(name: str | None, what: str) -> tuple[str | None, str | None]:
    """The name when it passes the checks for names, else None and why (None for no name)."""
    if not name:
        return None, None
    try:
        return validate.person_name(name, what) or None, None
    except ValueError as exc:
        return None, str(exc)


def _log_replaced(webinar: WebinarRecord, remote: RemoteRegistrant, refusal: str, replacement: str) -> None:
    # The registrant's id says who it is; their address, name and join link stay out of logs.
    log.warning(
        "Registrant %s of %s, from %s: %s, so it was replaced by %s",
        remote.registrant_id,
        webinar.slug,
        webinar.provider,
        refusal,
        replacement,
    )


_ENDED = ("cancelled", "denied")


def remote_changes(row: Registrant, remote: RemoteRegistrant) -> dict:
    """What to change in `row` so that it holds what the provider says of that person: its
    registrant id, join link and status. Empty when nothing is to change."""
    if row.provider_registrant_id is None and row.status != remote.status and remote.status in _ENDED:
        # Added here afresh after a cancellation (Zoom lists cancelled people as denied): the
        # organiser's newer decision wins, and register_waiting signs them up again.
        return {}
    changes = {}
    if row.provider_registrant_id is None:
        changes["provider_registrant_id"] = remote.registrant_id
    if remote.join_url and row.join_url != remote.join_url:
        changes["join_url"] = remote.join_url
    if remote.language and not row.language:  # the organiser's own value wins
        changes["language"] = remote.language
    if remote.tracking_source and not row.tracking_source:  # where they came to us from wins
        changes["tracking_source"] = remote.tracking_source
    if row.provider_status != remote.status and not row.is_cancelled:
        changes["provider_status"] = remote.status
        changes["status"] = remote.status
    return changes


# -- after the end: who attended ------------------------------------------------------------

# How long after the end the provider is asked for attendance. Zoom prepares its participant
# lists some minutes to hours after the end and keeps them for months, but follow-ups by
# attendance go out within days: a week covers Zoom's delays and an outage over a weekend,
# and stops the sync asking for ever about a webinar whose lists will never come.
ATTENDANCE_WINDOW = timedelta(days=7)
# The waits between tries while the provider's data is not ready: doubling from the first,
# up to the last, so that a report ready soon after the end is found soon, without asking
# every few minutes for a week.
FIRST_RETRY = timedelta(minutes=15)
LAST_RETRY = timedelta(hours=6)


@dataclass(frozen=True)
class AttendancePull:
    """What one pull of attendance did: `recorded` (with the figures and the sessions that
    matched no registrant), `not ready` (with when to try again), `failed` (the provider
    refused; tried again after `retry_after` too), or `skipped` (with the reason)."""

    outcome: str
    reason: str | None = None
    figures: AttendanceFigures | None = None
    unmatched: int = 0
    retry_after: datetime | None = None

    def summary(self) -> str:
        """One line for the organiser (the command line, the job's log)."""
        if self.outcome == "recorded" and self.figures:
            rate = f" ({self.figures.rate:.0%})" if self.figures.rate is not None else ""
            sessions = "session" if self.unmatched == 1 else "sessions"
            unmatched = f"; {self.unmatched} {sessions} matched no registrant" if self.unmatched else ""
            return f"{self.figures.attended} of {self.figures.expected} attended{rate}{unmatched}"
        if self.retry_after:
            return f"{self.outcome}, asked again after {times.iso_utc(self.retry_after)}: {self.reason}"
        return f"{self.outcome}: {self.reason}"


def attendance_skipped(store: Store, webinar: WebinarRecord, now: datetime, force: bool = False) -> str | None:
    """Why the provider is not to be asked for the webinar's attendance now, or None when it
    is: only after the end, for a webinar the provider holds, and (unless `force`, a refresh)
    only while not known, within ATTENDANCE_WINDOW and after the last try's retry_after."""
    end = webinar.definition.end
    if webinar.cancelled_at:
        return "the webinar was cancelled"
    if webinar.provider_webinar_id is None:
        return "the provider does not hold the webinar"
    if now < end:
        return f"the webinar ends at {times.iso_utc(end)}"
    if force:
        return None
    check = store.attendance_check(webinar.id)
    if check.known:
        return f"attendance is known since {check.known_at}"
    if now > end + ATTENDANCE_WINDOW:
        return f"the provider is not asked more than {ATTENDANCE_WINDOW.days} days after the end"
    if check.retry_after and now < times.parse_iso_utc(check.retry_after):
        return f"the provider is asked again after {check.retry_after}: {check.error}"
    return None


def pull_attendance(
    store: Store, provider: Provider, webinar: WebinarRecord, now: datetime, force: bool = False
) -> AttendancePull:
    """Ask the provider who attended the webinar, and record it (source "provider"), all or
    nothing: everyone approved who is not among the sessions is recorded absent. `force`
    asks again even when attendance is known, and the new record replaces the old. While the
    provider's data is not ready, or the provider refuses, the try is recorded with when to
    try again, and nothing else changes."""
    reason = attendance_skipped(store, webinar, now, force)
    if reason:
        return AttendancePull("skipped", reason)
    if not callable(getattr(provider, "attendance", None)):
        # A provider plugin written before attendance existed cannot tell: nothing to ask.
        return AttendancePull("skipped", f"{provider.name} does not report attendance")
    try:
        joins = provider.attendance(webinar.provider_webinar_id or "")
    except ProviderError as exc:
        return _attendance_deferred(store, webinar, now, exc)
    matched = match(store.attendance_candidates(webinar.id), joins)
    store.record_attendance(webinar.id, matched.present, "provider", now, matched.unmatched)
    return AttendancePull("recorded", figures=store.attendance_figures(webinar.id), unmatched=matched.unmatched)


def _attendance_deferred(store: Store, webinar: WebinarRecord, now: datetime, exc: ProviderError) -> AttendancePull:
    waited = retry_wait(store.attendance_check(webinar.id).tries)
    retry_after = getattr(exc, "retry_after", None) or now + waited
    store.attendance_not_ready(webinar.id, str(exc), retry_after)
    outcome = "not ready" if isinstance(exc, AttendanceNotReady) else "failed"
    return AttendancePull(outcome, str(exc), retry_after=retry_after)


def retry_wait(tries: int) -> timedelta:
    """The wait after `tries` earlier tries that found nothing: FIRST_RETRY, doubling each
    time, never more than LAST_RETRY."""
    # The exponent is bounded: each forced pull counts a try, and 2**tries would overflow.
    return min(FIRST_RETRY * 2 ** min(tries, 16), LAST_RETRY)
