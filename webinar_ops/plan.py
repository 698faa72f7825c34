"""Planning: which mail goes to whom, and when.

Planning writes one delivery row per (registrant, kind) into the outbox, with its due time
in UTC, and keeps those rows true to the webinar as it changes. It is idempotent: running it
again creates nothing new. These are the rules; each has its own test in tests/test_plan.py.

a) No reminder is sent after the webinar has started: a reminder still unsent at the start
   is recorded as missed (checked when it is sent, in deliver).
b) A reminder whose due time had passed when the person registered is skipped for them,
   with the reason recorded; their confirmation already carries everything.
c) A reminder that fell due while the service was down is sent late only within the grace
   period (`[reminders] grace`, default 30 minutes, and never after the start). Otherwise it
   is recorded as missed (checked when it is sent, in deliver).
d) Cancelled and denied registrants get nothing more: their unsent mails are skipped.
   Pending registrants get only a word that their request awaits the organiser's approval
   (`awaiting`) until they are approved, and nobody gets mail that gives a seat before the
   provider has registered them (their join link comes from it). Someone approved again
   after a cancellation gets the mail still to come.
e) Nobody gets two copies of the same mail: a (registrant, kind) is planned once, whatever
   the revision. Registrants are per webinar, so someone registered for two webinars gets
   each webinar's mails.
f) When the webinar's start moves, unsent reminders move with it, and every unsent mail takes
   the new revision (its invite carries the new time and SEQUENCE). Rule b is weighed again
   against the new due time.
g) When the time or title changes (a new revision), everyone who was sent an invite of an
   older revision gets an update, due at once: its invite replaces the one in their calendar,
   and its text shows what their calendar held. An update not yet sent gives way to a newer one.
h) When the webinar is cancelled, every approved registrant gets a cancellation, due at once,
   whose invite removes the event from their calendar, and everyone pending or waitlisted a
   shorter word that it is called off, without an invite; every other unsent mail is skipped.
i) Each `[[after]]` message of the definition (thanks, the recording, the slides, a survey) is
   planned for every approved registrant at its time after the end, and moves with the end.
j) Someone whose pending request is denied, here or on the provider's site, gets a denial,
   due at once, with the organiser's words if they gave some. Someone a provider lists as
   denied when first seen gets none: Zoom lists people who cancelled as denied.
k) Someone put on the waitlist (`[registration] capacity`) gets one `waitlisted` mail, due at
   once, telling their place in the queue; it has no join link, invite or calendar links.
   Waitlisted people get nothing else (rule d) until a seat makes them approved, and then the
   confirmation and what follows; a waitlisted mail not yet sent by then is skipped.

Manual sends (`webinar-ops remind`) are kinds of their own, stamped with the time they were
asked for, so they neither block nor duplicate the scheduled mails.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from webinar_ops import times
from webinar_ops.errors import InputError
from webinar_ops.mail import kinds
from webinar_ops.mail.kinds import (
    AFTER,
    AWAITING,
    CALLED_OFF,
    CANCELLATION,
    CONFIRMATION,
    DENIAL,
    REMINDER,
    UPDATE,
    WAITLISTED,
    Due,
)
from webinar_ops.mail.outbox import PAGE, Delivery, NewDelivery, Outbox, State
from webinar_ops.store import Registrant, Store, WebinarRecord


@dataclass
class PlanReport:
    """What one planning pass changed."""

    created: int = 0
    skipped: int = 0
    moved: int = 0
    withdrawn: int = 0
    updates: int = 0  # of `created`: updates for calendars that hold an older revision (rule g)


def message_id(webinar: WebinarRecord, registrant_id: int, kind: str, revision: int, domain: str) -> str:
    """A Message-ID unique per recipient and mail; made once when the row is planned."""
    name = f"webinar-ops/{webinar.calendar_uid}/{registrant_id}/{kind}/{revision}"
    return f"<{uuid.uuid5(uuid.NAMESPACE_URL, name)}@{domain}>"


def plan_webinar(store: Store, webinar: WebinarRecord, now: datetime, domain: str) -> PlanReport:
    """Bring the webinar's outbox in line with its registrants and its definition."""
    report = PlanReport()
    with store.transaction():
        if webinar.cancelled_at:
            report.withdrawn = _withdraw_for_cancellation(store, webinar, now)
            report.created = _plan_cancellations(store, webinar, now, domain)
            return report
        report.withdrawn = _withdraw_for_inactive(store, webinar, now) + _withdraw_removed_reminders(
            store, webinar, now
        )
        report.moved = _follow_the_webinar(store, webinar, now)
        report.created = _reopen_for_the_returning(store, webinar, now)
        created, report.skipped = _create_missing(store, webinar, now, domain)
        report.updates = _plan_updates(store, webinar, now, domain)
        report.created += created + report.updates + _plan_waitlisted(store, webinar, now, domain)
    return report


def plan_upcoming(store: Store, now: datetime, domain: str) -> dict[str, PlanReport]:
    """Plan every webinar that has not ended yet."""
    return {w.slug: plan_webinar(store, w, now, domain) for w in store.webinars() if w.definition.end > now}


def _create_missing(store: Store, webinar: WebinarRecord, now: datetime, domain: str) -> tuple[int, int]:
    created = skipped = 0
    d = webinar.definition
    wanted = [
        (AWAITING.template, None, AWAITING),
        (CONFIRMATION.template, None, CONFIRMATION),
        (DENIAL.template, None, DENIAL),
        *((kinds.reminder_name(o), o, REMINDER) for o in d.reminder_offsets),
        *((kinds.after_name(m.delay), m.delay, AFTER) for m in d.after),
    ]
    outbox = Outbox(store)
    for name, offset, kind in wanted:
        for people in outbox.people_without(webinar, name, _ONLY.get(kind.template, ""), kind=kind):
            rows = [_new_row(webinar, Registrant.from_row(row), name, offset, now, domain, kind) for row in people]
            outbox.add(rows)
            created += len(rows)
            skipped += sum(row.state == State.SKIPPED for row in rows)
    return created, skipped


# Who of a kind's audience gets it, beyond their status (rule j): a denial goes to those whose
# request was denied, not to everyone a provider lists as denied.
_ONLY = {DENIAL.template: "AND r.denied_at IS NOT NULL"}


def _plan_waitlisted(store: Store, webinar: WebinarRecord, now: datetime, domain: str) -> int:
    """Rule k: the waitlisted mail for everyone waiting who has not had one, with their place."""
    created, name, outbox = 0, WAITLISTED.template, Outbox(store)
    places: dict[int, int] | None = None  # read once, and only when someone is to be told
    for people in outbox.people_without(webinar, name, kind=WAITLISTED):
        places = store.waitlist_places(webinar.id) if places is None else places
        rows = []
        for row in people:
            person = Registrant.from_row(row)
            details = json.dumps({"place": places.get(person.id)})
            rows.append(replace(_new_row(webinar, person, name, None, now, domain, WAITLISTED), details=details))
        outbox.add(rows)
        created += len(rows)
    return created


def _plan_updates(store: Store, webinar: WebinarRecord, now: datetime, domain: str) -> int:
    """Rule g: an update for everyone whose last invite was of an older revision."""
    if webinar.revision == 0:
        return 0
    kind, outbox = kinds.update_name(webinar.revision), Outbox(store)
    outbox.skip_pending(webinar, "a newer update replaced it", now, templates=[UPDATE.template], except_kind=kind)
    told = outbox.told_column()
    created = 0
    revisions: dict[int, dict | None] = {}  # most readers hold the same older revision
    for people in outbox.people_without(webinar, kind, f"AND {told} < {webinar.revision}", f", {told} AS told"):
        rows = []
        for row in people:
            told = row["told"]
            if told not in revisions:
                revisions[told] = store.revision_of(webinar.id, told)
            details = json.dumps({"revision": told, "was": revisions[told]})
            person = Registrant.from_row(row)
            rows.append(replace(_new_row(webinar, person, kind, None, now, domain, UPDATE), details=details))
        outbox.add(rows)
        created += len(rows)
    return created


def _withdraw_for_cancellation(store: Store, webinar: WebinarRecord, now: datetime) -> int:
    """Rule h: nothing but the cancellation goes to anyone."""
    ending = [kind.template for kind in kinds.KINDS.values() if not kind.outlives_cancellation]
    return Outbox(store).skip_pending(webinar, "the webinar was cancelled", now, templates=ending)


def _plan_cancellations(store: Store, webinar: WebinarRecord, now: datetime, domain: str) -> int:
    """Rule h: the cancellation for everyone approved; and the word that it is called off
    (CALLED_OFF) for those who asked for a place and hold none, pending or waitlisted."""
    created, outbox = 0, Outbox(store)
    for kind in (CANCELLATION, CALLED_OFF):
        for people in outbox.people_without(webinar, kind.template, kind=kind):
            rows = [
                _pending(_new_row(webinar, Registrant.from_row(p), kind.template, None, now, domain, kind))
                for p in people
            ]
            outbox.add(rows)
            created += len(rows)
    return created


def _new_row(
    webinar: WebinarRecord,
    registrant: Registrant,
    name: str,
    offset: timedelta | None,
    now: datetime,
    domain: str,
    kind: kinds.Kind,
) -> NewDelivery:
    """The delivery of the mail `name`, of `kind`, to `registrant`: pending, or skipped with
    the reason planning found (rule b)."""
    stamp = times.iso_utc(now)
    due = kind.due_at(webinar.definition, offset, now)
    reason = _skip_reason(webinar, registrant.approved_at, _lead(kind, offset), due, now)
    return NewDelivery(
        webinar_id=webinar.id,
        registrant_id=registrant.id,
        kind=name,
        template=kind.template,
        offset_minutes=None if offset is None else int(offset.total_seconds() // 60),
        revision=webinar.revision,
        due_at=times.iso_utc(due),
        send_after=times.iso_utc(due),
        message_id=message_id(webinar, registrant.id, name, webinar.revision, domain),
        created_at=stamp,
        updated_at=stamp,
        state=State.SKIPPED if reason else State.PENDING,
        reason=reason,
    )


def _pending(row: NewDelivery) -> NewDelivery:
    """The delivery, pending whatever rule b found: a cancellation, and a send by hand, go
    to everyone it is planned for."""
    return replace(row, state=State.PENDING, reason=None)


def _lead(kind: kinds.Kind, offset: timedelta | None) -> timedelta | None:
    """The offset rule b weighs: a reminder's before the start; other mail has none."""
    return offset if kind.due is Due.BEFORE_START else None


def _skip_reason(
    webinar: WebinarRecord, approved_at: str | None, offset: timedelta | None, due: datetime, now: datetime
) -> str | None:
    """Rule b for a reader approved at `approved_at` (None: now), or None to send the mail."""
    if offset is None:
        return "the webinar was over when they registered" if now >= webinar.definition.end else None
    registered = times.parse_iso_utc(approved_at) if approved_at else now
    if registered >= webinar.definition.start:
        return "they registered after the webinar had started"
    if due < registered:
        return (
            f"it fell due ({times.iso_utc(due)}) before they registered ({times.iso_utc(registered)}); "
            "their confirmation carried everything"
        )
    return None


def _withdraw_for_inactive(store: Store, webinar: WebinarRecord, now: datetime) -> int:
    """Rule d: a registrant's unsent mail of a kind that no longer goes to them is skipped:
    a cancelled or denied one's confirmation and reminders, an approved one's awaiting mail."""
    return Outbox(store).skip_pending_of_inactive(webinar, now)


def _withdraw_removed_reminders(store: Store, webinar: WebinarRecord, now: datetime) -> int:
    """A reminder or after-message taken out of the definition is not sent to anyone who has
    not had it yet."""
    d = webinar.definition
    names = [kinds.reminder_name(o) for o in d.reminder_offsets] + [kinds.after_name(m.delay) for m in d.after]
    return Outbox(store).skip_pending_scheduled_but(webinar, names, now)


def _reopen_for_the_returning(store: Store, webinar: WebinarRecord, now: datetime) -> int:
    """Someone cancelled (or denied, or pending) and approved again gets the mail still to
    come: the rows skipped for their registration's state are planned afresh, as are those of
    any other kind whose audience they are back in."""
    reopened, outbox = 0, Outbox(store)
    for delivery, approved_at in outbox.skipped_for_registration(webinar):
        reopened += 1
        kind, offset = delivery.mail_kind, delivery.offset
        due = kind.due_at(webinar.definition, offset, now)
        reason = _skip_reason(webinar, approved_at, _lead(kind, offset), due, now)
        outbox.change(
            delivery.id,
            {
                "state": State.SKIPPED if reason else State.PENDING,
                "reason": reason,
                "due_at": times.iso_utc(due),
                "send_after": times.iso_utc(due),
                "revision": webinar.revision,
                "updated_at": times.iso_utc(now),
            },
        )
    return reopened


def _follow_the_webinar(store: Store, webinar: WebinarRecord, now: datetime) -> int:
    """Rule f: unsent mail takes the webinar's new time and revision. A reminder skipped
    under rule b is weighed again against its new due time."""
    moved, outbox = 0, Outbox(store)
    for delivery, approved_at in outbox.out_of_step(webinar):
        changes = _moved(webinar, delivery, approved_at, now)
        if changes:
            outbox.change(delivery.id, {**changes, "updated_at": times.iso_utc(now)})
            moved += 1
    return moved


def _moved(webinar: WebinarRecord, delivery: Delivery, approved_at: str | None, now: datetime) -> dict:
    """The columns of `delivery` to change to follow the webinar (rule f), none if it stays."""
    changes: dict = {}
    if delivery.revision != webinar.revision:
        changes["revision"] = webinar.revision
    if delivery.offset is not None and not delivery.is_manual:
        kind, offset = delivery.mail_kind, delivery.offset
        due = kind.due_at(webinar.definition, offset, now)
        if times.iso_utc(due) != delivery.due_at:
            changes.update(due_at=times.iso_utc(due), send_after=times.iso_utc(due))
            reason = _skip_reason(webinar, approved_at, _lead(kind, offset), due, now)
            changes.update(state=State.SKIPPED if reason else State.PENDING, reason=reason)
    if delivery.state == State.SKIPPED and "due_at" not in changes:
        return {}  # a skipped reminder that did not move stays as it is
    return changes


@dataclass
class Audience:
    """Whom a manual send reaches, and why each other registrant is left out (address, why)."""

    reached: list[Registrant]
    left_out: list[tuple[str, str]]


def manual_audience(
    store: Store, webinar: WebinarRecord, template: str, now: datetime, to: str | None = None
) -> Audience:
    """Who a manual send of `template` (to everyone, or only `to`) reaches now, and why each
    other registrant is left out. `remind` sends to exactly these; `remind --dry-run` lists them.
    Refuses (InputError) a cancelled webinar, an unknown kind and a `to` that is no registrant."""
    if template not in kinds.BY_HAND:
        raise InputError(f"Unknown kind {template!r}: use one of {', '.join(kinds.BY_HAND)}.")
    webinar.require_not_cancelled("mail but the cancellation goes")
    wanted = to.strip().lower() if to is not None else None
    people = store.registrants(webinar.id, "email = ?", [wanted]) if wanted else store.registrants(webinar.id)
    if wanted and not people:
        raise InputError(
            f"{to} is not a registrant of {webinar.slug} (see `webinar-ops registrants list {webinar.slug}`)."
        )
    audience = Audience([], [])
    for person in people:
        why = _left_out_because(template, webinar, person, now)
        if why:
            audience.left_out.append((person.email, why))
        else:
            audience.reached.append(person)
    return audience


def _why_nobody(audience: Audience) -> str:
    """The reasons everyone was left out, most common first, each with how many it kept out."""
    if not audience.left_out:
        return "The webinar has no registrants yet."
    counts = Counter(why for _, why in audience.left_out).most_common()
    return "; ".join(f"{n} {'person' if n == 1 else 'people'}: {why}" for why, n in counts) + "."


def _left_out_because(template: str, webinar: WebinarRecord, person: Registrant, now: datetime) -> str | None:
    """Why a send by hand of `template` now leaves `person` out: the rules its sending
    applies (deliver), and the provider's registration that its join link comes from."""
    kind = kinds.of(template)
    why = kind.reason_to_skip(person.status, person.is_unsubscribed)
    if why is None and person.provider_registrant_id is None:
        why = f"not yet registered with the provider (run `webinar-ops sync {webinar.slug}`)"
    if why is None:
        late = kind.too_late(webinar.definition, now, now, scheduled=False, tried=False)
        why = late[1] if late else None
    return why


def plan_manual(
    store: Store, webinar: WebinarRecord, template: str, now: datetime, domain: str, to: str | None = None
) -> str:
    """Create a manual send of `template` to everyone `manual_audience` reaches, due now.

    Returns the kind of the new deliveries (`manual-reminder-20210430T050000000000Z`): it
    carries the time of the request, so a later manual send is a new mail, and none of them
    touches the scheduled reminders.
    """
    audience = manual_audience(store, webinar, template, now, to)
    if to is not None and not audience.reached:
        ((email, why),) = audience.left_out
        raise InputError(f"{email} would not get it: {why}.")
    if not audience.reached:
        raise InputError(f"Nobody would get the {template}; sent nothing. {_why_nobody(audience)}")
    name = kinds.manual_name(template, now)
    with store.transaction():
        for first in range(0, len(audience.reached), PAGE):
            page = audience.reached[first : first + PAGE]
            rows = [_pending(_new_row(webinar, p, name, None, now, domain, kinds.of(template))) for p in page]
            Outbox(store).add(rows)
    return name


@dataclass(frozen=True)
class PreviewMail:
    """What `preview` composes: the delivery planning would make, as composing reads it
    (`details` is JSON, as stored), under a Message-ID of its own."""

    template: str
    offset_minutes: int | None = None
    details: str | None = None
    message_id: str = "<preview@webinar-ops>"


def preview_delivery(
    store: Store, webinar: WebinarRecord, template: str, lead: timedelta | None, registrant: Registrant | None
) -> PreviewMail:
    """The delivery of `template` that planning would make for `registrant`, for `preview`: a
    reminder `lead` before the start, an update from the revision the reader's calendar holds
    (as the real update says it), the first after-message. Refuses (InputError) a kind the
    webinar would not send."""
    if template == REMINDER.template:
        return PreviewMail(template, offset_minutes=int(lead.total_seconds() // 60))
    if template == UPDATE.template:
        if webinar.revision == 0:
            raise InputError(
                f"{webinar.slug} has not changed since it was added, so no update would go: an update follows "
                "a new start, duration or title given with `webinar-ops webinar add`."
            )
        told = _told_revision(store, webinar, registrant)
        return PreviewMail(template, details=json.dumps({"revision": told, "was": store.revision_of(webinar.id, told)}))
    if template == WAITLISTED.template:
        place = store.waitlist_place(registrant.id) if registrant and registrant.id is not None else None
        return PreviewMail(template, details=json.dumps({"place": place or 1}))
    if template == AFTER.template:
        if not webinar.definition.after:
            raise InputError(f"{webinar.slug} has no [[after]] messages; docs/definition.md shows how to add one.")
        return PreviewMail(template, offset_minutes=int(webinar.definition.after[0].delay.total_seconds() // 60))
    return PreviewMail(template)


def _told_revision(store: Store, webinar: WebinarRecord, registrant: Registrant | None) -> int:
    """The revision an update to this reader starts from: the one their last mail described
    (after two quick moves, the one before both); for a reader told nothing yet or already
    told this revision, the one before it."""
    told = Outbox(store).told_revision(registrant.id) if registrant and registrant.id is not None else None
    return told if told is not None and told < webinar.revision else webinar.revision - 1
