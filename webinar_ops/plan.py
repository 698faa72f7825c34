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
l) An `[[after]]` message to `attended` or `absent` waits for attendance and is planned only
   after the end, once it is known: each approved registrant gets the version of that send
   time that matches their presence (none when that audience has no message), due at its
   time, or at once when that has passed. Until the deadline (`wait` after the end) nothing
   is planned and the status says it waits. At the deadline without attendance, a version
   with `otherwise = "everyone"` goes to every approved registrant with the everyone wording,
   and one with `otherwise = "skip"` is recorded skipped for each, with the reason. Nobody
   gets two versions of one time: whoever has a row of that time keeps it. A correction of
   attendance never resends; a version not yet sent turns into the corrected one (or is
   skipped, when that audience has no message). An ended webinar is planned for these alone
   (`plan_ended`) until a week after the deadline, and gets nothing else. Its tests are in
   tests/test_follow_ups.py.

m) The speakers and the moderator (each person once, `store.speakers`) get mail of their own
   kinds, never a registrant's, and no registrant gets theirs: a briefing when they are
   added, due at once, and a new one each time their slot changes (`briefing-N`, N their
   `slot_revision`: an older one not yet sent gives way); a reminder at each `[speakers]
   reminders` offset before the start; a reminder of the practice session (`[practice]
   reminder` before it). Each waits for their own panelist link from the provider, and a
   speaker without an address gets nothing. A reminder that fell due before they were added
   is skipped, as under rule b. Unsent reminders follow a moved start or practice; those taken
   out of the definition, and every unsent mail of a speaker taken out of the programme, are
   skipped with the reason (and planned again if they come back). When the webinar is
   cancelled, each speaker with an address gets the speakers' cancellation (its invite
   removes their entry), and nothing else. A registrant who is also a speaker
   (Store.registrant_addresses_that_speak) gets none of the audience's mail but the
   after-messages while they speak: it is skipped, and planned again if they are taken out.
n) Nobody on the suppression list (`Store.suppression`: a hard bounce, the organiser's word)
   gets mail, registrant or speaker, for any webinar: each of their mails is planned as ever
   and skipped when it falls due, with the reason (checked when it is sent, in deliver). Taken
   off the list, their skipped mails go back to the queue (`Outbox.reopen_unsuppressed`) and
   go out if still timely (rules a and c). A 5xx to RCPT TO, or to the message, puts the
   address on the list in the transaction that records the failure; a 4xx does not. Its
   tests are in tests/test_suppressions.py.

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
from webinar_ops.definition import AfterMessage, Definition
from webinar_ops.errors import InputError
from webinar_ops.mail import kinds
from webinar_ops.mail.kinds import (
    AFTER,
    AWAITING,
    BRIEFING,
    CALLED_OFF,
    CANCELLATION,
    CONFIRMATION,
    DENIAL,
    PRACTICE_REMINDER,
    REMINDER,
    SPEAKER_CANCELLATION,
    SPEAKER_REMINDER,
    UPDATE,
    WAITLISTED,
    Due,
)
from webinar_ops.mail.outbox import PAGE, Delivery, NewDelivery, Outbox, State
from webinar_ops.store import Registrant, SpeakerRecord, Store, WebinarRecord


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
            report.created += _plan_speaker_cancellations(store, webinar, now, domain)
            report.withdrawn += _leave_out_the_speaking(store, webinar, now)
            return report
        report.withdrawn = _withdraw_for_inactive(store, webinar, now) + _withdraw_removed_reminders(
            store, webinar, now
        )
        report.moved = _follow_the_webinar(store, webinar, now)
        report.created = _reopen_for_the_returning(store, webinar, now)
        created, report.skipped = _create_missing(store, webinar, now, domain)
        report.updates = _plan_updates(store, webinar, now, domain)
        report.created += created + report.updates + _plan_waitlisted(store, webinar, now, domain)
        _add(report, _plan_follow_ups(store, webinar, now, domain))
        _add(report, _plan_speakers(store, webinar, now, domain))
        report.withdrawn += _leave_out_the_speaking(store, webinar, now)
    return report


def plan_ended(store: Store, webinar: WebinarRecord, now: datetime, domain: str) -> PlanReport:
    """Plan an ended webinar's follow-ups by attendance (rule l), and nothing else: no
    confirmation, reminder or update goes to anyone for a webinar that is over."""
    report = PlanReport()
    if not follow_ups_open(webinar, now):
        return report
    with store.transaction():
        report.withdrawn = _withdraw_for_inactive(store, webinar, now) + _withdraw_removed_reminders(
            store, webinar, now
        )
        _add(report, _plan_follow_ups(store, webinar, now, domain))
    return report


def plan_upcoming(store: Store, now: datetime, domain: str) -> dict[str, PlanReport]:
    """Plan every webinar that has not ended yet, and the follow-ups by attendance of those
    that have (rule l)."""
    return {
        w.slug: plan_webinar(store, w, now, domain) if w.definition.end > now else plan_ended(store, w, now, domain)
        for w in store.webinars()
        if w.definition.end > now or follow_ups_open(w, now)
    }


def _add(report: PlanReport, follow_ups: PlanReport) -> None:
    report.created += follow_ups.created
    report.skipped += follow_ups.skipped
    report.moved += follow_ups.moved
    report.withdrawn += follow_ups.withdrawn


# -- rule m: the speakers' mails --------------------------------------------------------------


def speaker_message_id(webinar: WebinarRecord, speaker_id: int, kind: str, revision: int, domain: str) -> str:
    """A speaker's Message-ID, unique per speaker and mail (never a registrant's); made once."""
    name = f"webinar-ops/{webinar.calendar_uid}/speaker/{speaker_id}/{kind}/{revision}"
    return f"<{uuid.uuid5(uuid.NAMESPACE_URL, name)}@{domain}>"


def _speakers_scheduled(definition: Definition) -> list[tuple[str, timedelta, kinds.Kind]]:
    """(name, offset, kind) of each reminder the definition gives its speakers."""
    wanted = [(kinds.speaker_reminder_name(o), o, SPEAKER_REMINDER) for o in definition.speaker_reminder_offsets]
    if definition.practice is not None:
        wanted.append((kinds.PRACTICE_REMINDER_NAME, definition.practice.reminder, PRACTICE_REMINDER))
    return wanted


def _plan_speakers(store: Store, webinar: WebinarRecord, now: datetime, domain: str) -> PlanReport:
    """Rule m: each speaker's briefing for their slot as it stands, and their reminders."""
    report, outbox = PlanReport(), Outbox(store)
    scheduled = _speakers_scheduled(webinar.definition)
    report.withdrawn = outbox.skip_pending_of_speakers(webinar, now)
    report.created = outbox.reopen_for_returning_speakers(webinar, now)
    report.withdrawn += outbox.skip_pending_speaker_reminders_but(webinar, [name for name, _, _ in scheduled], now)
    report.moved = _follow_for_speakers(store, webinar, now)
    for name, offset, kind in [(None, None, BRIEFING), *scheduled]:
        rows = []
        for row in outbox.speakers_without(webinar, name, linked=kind.join_link):
            speaker = SpeakerRecord.from_row(row)
            rows.append(
                _speaker_row(
                    webinar, speaker, name or kinds.briefing_name(speaker.slot_revision), offset, now, domain, kind
                )
            )
        outbox.add(rows)
        report.created += len(rows)
        report.skipped += sum(row.state == State.SKIPPED for row in rows)
    return report


def _leave_out_the_speaking(store: Store, webinar: WebinarRecord, now: datetime) -> int:
    """Rule m: a registrant who also speaks gets the speakers' mail, not the audience's (but
    for the after-messages), while they speak; taken out of the programme, the audience's mail
    still to come is theirs again."""
    speaking, outbox = store.registrant_addresses_that_speak(webinar.id), Outbox(store)
    outbox.reopen_for_former_speakers(webinar, speaking, now)
    return outbox.skip_pending_of_speaking(webinar, speaking, now)


def _plan_speaker_cancellations(store: Store, webinar: WebinarRecord, now: datetime, domain: str) -> int:
    """Rule m: the speakers' cancellation for each speaker with an address."""
    outbox, name = Outbox(store), kinds.SPEAKER_CANCELLATION_NAME
    speakers = [SpeakerRecord.from_row(row) for row in outbox.speakers_without(webinar, name, linked=False)]
    rows = [_speaker_row(webinar, s, name, None, now, domain, SPEAKER_CANCELLATION) for s in speakers]
    outbox.add([replace(row, state=State.PENDING, reason=None) for row in rows])
    return len(rows)


def _speaker_row(
    webinar: WebinarRecord,
    speaker: SpeakerRecord,
    name: str,
    offset: timedelta | None,
    now: datetime,
    domain: str,
    kind: kinds.Kind,
) -> NewDelivery:
    """The delivery of the mail `name`, of `kind`, to `speaker`: pending, or skipped with the
    reason planning found (rule b, weighed against when they were added)."""
    due = kind.due_at(webinar.definition, offset, now)
    reason = _speaker_skip_reason(webinar, kind, offset, due, times.parse_iso_utc(speaker.created_at), now)
    reader = {"registrant_id": None, "speaker_id": speaker.id}
    made_id = speaker_message_id(webinar, speaker.id, name, webinar.revision, domain)
    return _delivery(webinar, name, kind, offset, due, reason, now, made_id, **reader)


def _speaker_skip_reason(
    webinar: WebinarRecord, kind: kinds.Kind, offset: timedelta | None, due: datetime, added: datetime, now: datetime
) -> str | None:
    """Rule b for a speaker added at `added`: a reminder that fell due before is not sent."""
    if offset is None:
        return "the webinar was over when they were added" if now >= webinar.definition.end else None
    if due < added:
        return (
            f"it fell due ({times.iso_utc(due)}) before they were added to the programme "
            f"({times.iso_utc(added)}); their briefing carried everything"
        )
    return None


def _follow_for_speakers(store: Store, webinar: WebinarRecord, now: datetime) -> int:
    """Rule m (as rule f): the speakers' unsent reminders follow a moved start or practice."""
    moved, outbox = 0, Outbox(store)
    wanted = {name for name, _, _ in _speakers_scheduled(webinar.definition)}
    for delivery in outbox.speakers_scheduled(webinar):
        if delivery.kind not in wanted:
            continue
        due = delivery.mail_kind.due_at(webinar.definition, delivery.offset, now)
        if times.iso_utc(due) == delivery.due_at:
            continue
        speaker = store.speaker_by_id(delivery.speaker_id)
        added = times.parse_iso_utc(speaker.created_at)
        reason = _speaker_skip_reason(webinar, delivery.mail_kind, delivery.offset, due, added, now)
        changes = {"due_at": times.iso_utc(due), "send_after": times.iso_utc(due), "reason": reason}
        changes |= {"state": State.SKIPPED if reason else State.PENDING, "updated_at": times.iso_utc(now)}
        outbox.change(delivery.id, changes)
        moved += 1
    return moved


# -- rule l: follow-ups by attendance ---------------------------------------------------------


@dataclass(frozen=True)
class FollowUp:
    """The versions of the after-message of one send time that go by attendance: to those who
    attended, to the absent, or both; they wait alike (the definition holds them to it)."""

    delay: timedelta
    versions: dict[str, AfterMessage]  # attended / absent -> its message

    @property
    def wait(self) -> timedelta:
        return next(iter(self.versions.values())).wait

    def deadline(self, definition: Definition) -> datetime:
        """When attendance must be known by; after it, each version does as `otherwise` says."""
        return definition.end + self.wait

    @property
    def version_names(self) -> tuple[str, ...]:
        """The delivery name of each version: `after-1d-attended`, `after-1d-absent`."""
        return tuple(kinds.after_name(self.delay, to) for to in self.versions)

    @property
    def names(self) -> tuple[str, ...]:
        """Every delivery name of this time: each version's, and the everyone one a fallback takes."""
        falls_back = any(m.otherwise == "everyone" for m in self.versions.values())
        return self.version_names + ((kinds.after_name(self.delay),) if falls_back else ())


def follow_ups(definition: Definition) -> list[FollowUp]:
    """The definition's after-messages by attendance, grouped by send time."""
    by_delay: dict[timedelta, dict[str, AfterMessage]] = {}
    for message in definition.after:
        if message.by_attendance:
            by_delay.setdefault(message.delay, {})[message.to] = message
    return [FollowUp(delay, versions) for delay, versions in sorted(by_delay.items())]


def follow_ups_open(webinar: WebinarRecord, now: datetime) -> bool:
    """Whether an ended webinar may still have follow-ups to plan: until a week (AFTER_PATIENCE)
    after the last deadline, for someone approved late or a correction of attendance."""
    groups = follow_ups(webinar.definition)
    if webinar.cancelled_at or not groups:
        return False
    return now <= max(g.deadline(webinar.definition) for g in groups) + kinds.AFTER_PATIENCE


@dataclass(frozen=True)
class Waiting:
    """A follow-up that waits for attendance, for the status: its names and its deadline."""

    names: tuple[str, ...]
    until: datetime
    otherwise: dict[str, str]  # version -> skip / everyone


def follow_ups_waiting(store: Store, webinar: WebinarRecord, now: datetime) -> list[Waiting]:
    """The follow-ups still waiting for attendance (none once it is known, or past the deadline)."""
    if webinar.cancelled_at or store.attendance_check(webinar.id).known:
        return []
    d = webinar.definition
    return [
        Waiting(g.version_names, g.deadline(d), {to: m.otherwise for to, m in g.versions.items()})
        for g in follow_ups(d)
        if now < g.deadline(d)
    ]


def _plan_follow_ups(store: Store, webinar: WebinarRecord, now: datetime, domain: str) -> PlanReport:
    """Rule l: the versions for the people they match, once attendance is known; the
    fallback at the deadline when it is not."""
    report = PlanReport()
    d = webinar.definition
    if webinar.cancelled_at or now < d.end:
        return report
    known = store.attendance_check(webinar.id).known
    presence = {rid: p.attended for rid, p in store.attendance_of(webinar.id).items()} if known else {}
    for group in follow_ups(d):
        if known:
            report.moved += _follow_the_correction(store, webinar, group, presence, now, domain)
            created, skipped = _plan_versions(store, webinar, group, presence, now, domain)
        elif now >= group.deadline(d):
            created, skipped = _plan_fallbacks(store, webinar, group, now, domain)
        else:
            continue  # it waits for attendance (follow_ups_waiting tells the status)
        report.created += created
        report.skipped += skipped
    return report


def _plan_versions(
    store: Store, webinar: WebinarRecord, group: FollowUp, presence: dict[int, bool], now: datetime, domain: str
) -> tuple[int, int]:
    """Each approved registrant with no row of this time gets the version of their presence
    (one recorded absent, or not recorded at all, is absent)."""
    created = skipped = 0
    outbox = Outbox(store)
    for people in outbox.people_without(webinar, group.names[0], kind=AFTER, alike=group.names[1:]):
        rows = []
        for row in people:
            person = Registrant.from_row(row)
            to = "attended" if presence.get(person.id) else "absent"
            if to in group.versions:
                rows.append(_follow_up_row(webinar, person, group, to, to, now, domain))
        outbox.add(rows)
        created += len(rows)
        skipped += sum(row.state == State.SKIPPED for row in rows)
    return created, skipped


def _plan_fallbacks(
    store: Store, webinar: WebinarRecord, group: FollowUp, now: datetime, domain: str
) -> tuple[int, int]:
    """The deadline passed without attendance: each version goes to everyone, as the everyone
    message, or is recorded skipped for each, as its `otherwise` says."""
    created = skipped = 0
    outbox = Outbox(store)
    reason = f"attendance was not known by {times.iso_utc(group.deadline(webinar.definition))}"
    for people in outbox.people_without(webinar, group.names[0], kind=AFTER, alike=group.names[1:]):
        rows = []
        for row in people:
            person = Registrant.from_row(row)
            for to, message in group.versions.items():
                if message.otherwise == "everyone":
                    rows.append(_follow_up_row(webinar, person, group, to, "everyone", now, domain))
                else:
                    skip = _follow_up_row(webinar, person, group, to, to, now, domain)
                    rows.append(replace(skip, state=State.SKIPPED, reason=skip.reason or reason))
        outbox.add(rows)
        created += len(rows)
        skipped += sum(row.state == State.SKIPPED for row in rows)
    return created, skipped


def _follow_up_row(
    webinar: WebinarRecord, person: Registrant, group: FollowUp, message: str, to: str, now: datetime, domain: str
) -> NewDelivery:
    """The follow-up of `group` with the words of its `message` version, worded for `to`
    (the version itself, or everyone), due at its time or at once when that has passed.
    Someone approved only after the end is skipped, as for any after-message (rule b)."""
    name = kinds.after_name(group.delay, to)
    row = _pending(_new_row(webinar, person, name, group.delay, now, domain, AFTER))
    due = times.iso_utc(max(webinar.definition.end + group.delay, now))
    row = replace(row, due_at=due, send_after=due, details=json.dumps({"message": message, "to": to}))
    approved = times.parse_iso_utc(person.approved_at) if person.approved_at else None
    if approved is not None and approved >= webinar.definition.end:
        return replace(row, state=State.SKIPPED, reason="the webinar was over when they registered")
    return row


def _follow_the_correction(
    store: Store, webinar: WebinarRecord, group: FollowUp, presence: dict[int, bool], now: datetime, domain: str
) -> int:
    """A version not yet sent to someone whose attendance was corrected turns into the other
    version, or is skipped when that audience has no message (and comes back if corrected
    again); anything sent, or being sent, stays as it is."""
    changed, outbox = 0, Outbox(store)
    for delivery in outbox.correctable(webinar, group.version_names):
        to = "attended" if presence.get(delivery.registrant_id) else "absent"
        changes = _corrected(webinar, group, delivery, to, domain)
        if changes:
            outbox.change(delivery.id, {**changes, "updated_at": times.iso_utc(now)})
            changed += 1
    return changed


def _corrected(webinar: WebinarRecord, group: FollowUp, delivery: Delivery, to: str, domain: str) -> dict:
    """The columns of an unsent version to change for a reader now known as `to`, none if it stays."""
    if to not in group.versions:
        wanted = {"state": State.SKIPPED, "reason": f"attendance was corrected: they were {to}"}
    else:
        name = kinds.after_name(group.delay, to)
        wanted = {
            "kind": name,
            "state": State.PENDING,
            "reason": None,
            "details": json.dumps({"message": to, "to": to}),
            "message_id": message_id(webinar, delivery.registrant_id, name, webinar.revision, domain),
        }
    return {column: value for column, value in wanted.items() if getattr(delivery, column) != value}


def _create_missing(store: Store, webinar: WebinarRecord, now: datetime, domain: str) -> tuple[int, int]:
    created = skipped = 0
    d = webinar.definition
    wanted = [
        (AWAITING.template, None, AWAITING),
        (CONFIRMATION.template, None, CONFIRMATION),
        (DENIAL.template, None, DENIAL),
        *((kinds.reminder_name(o), o, REMINDER) for o in d.reminder_offsets),
        *((kinds.after_name(m.delay), m.delay, AFTER) for m in d.after if not m.by_attendance),
    ]  # the after-messages by attendance wait for it (rule l)
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
    due = kind.due_at(webinar.definition, offset, now)
    reason = _skip_reason(webinar, registrant.approved_at, _lead(kind, offset), due, now)
    made_id = message_id(webinar, registrant.id, name, webinar.revision, domain)
    return _delivery(webinar, name, kind, offset, due, reason, now, made_id, registrant_id=registrant.id)


def _delivery(
    webinar: WebinarRecord,
    name: str,
    kind: kinds.Kind,
    offset: timedelta | None,
    due: datetime,
    reason: str | None,
    now: datetime,
    made_id: str,
    **reader: int | None,
) -> NewDelivery:
    """The row of the mail `name` to one reader (`registrant_id` or `speaker_id`), due at
    `due`: pending, or skipped for `reason`."""
    stamp = times.iso_utc(now)
    return NewDelivery(
        webinar_id=webinar.id,
        **reader,
        kind=name,
        template=kind.template,
        offset_minutes=None if offset is None else int(offset.total_seconds() // 60),
        revision=webinar.revision,
        due_at=times.iso_utc(due),
        send_after=times.iso_utc(due),
        message_id=made_id,
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
    names = [kinds.reminder_name(o) for o in d.reminder_offsets]
    names += [kinds.after_name(m.delay) for m in d.after if not m.by_attendance]
    names += [name for group in follow_ups(d) for name in group.names]
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
    if delivery.offset is not None and not delivery.is_manual and not _planned_after_the_end(webinar, delivery):
        kind, offset = delivery.mail_kind, delivery.offset
        due = kind.due_at(webinar.definition, offset, now)
        if times.iso_utc(due) != delivery.due_at:
            changes.update(due_at=times.iso_utc(due), send_after=times.iso_utc(due))
            reason = _skip_reason(webinar, approved_at, _lead(kind, offset), due, now)
            changes.update(state=State.SKIPPED if reason else State.PENDING, reason=reason)
    if delivery.state == State.SKIPPED and "due_at" not in changes:
        return {}  # a skipped reminder that did not move stays as it is
    return changes


def _planned_after_the_end(webinar: WebinarRecord, delivery: Delivery) -> bool:
    """Whether it is an after-message planned once the webinar had ended (by attendance, rule
    l): it keeps the time it was planned for (outbox.out_of_step reads the same)."""
    return delivery.template == AFTER.template and delivery.created_at >= times.iso_utc(webinar.definition.end)


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
    store: Store,
    webinar: WebinarRecord,
    template: str,
    lead: timedelta | None,
    registrant: Registrant | None,
    to: str | None = None,
) -> PreviewMail:
    """The delivery of `template` that planning would make for `registrant`, for `preview`: a
    reminder `lead` before the start, an update from the revision the reader's calendar holds
    (as the real update says it), the first after-message (`to` attended or absent: the first
    version for them). Refuses (InputError) a kind the webinar would not send, and `to` for
    any kind but the after-message."""
    if to is not None and template != AFTER.template:
        raise InputError(f"--as goes with --kind after: a {template} has no versions by attendance.")
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
        return _preview_after(webinar, to)
    return PreviewMail(template)


def preview_speaker_delivery(webinar: WebinarRecord, template: str, speaker: SpeakerRecord) -> PreviewMail:
    """The delivery of the speakers' `template` that planning would make for `speaker`, for
    `preview --speaker`: a speakers' reminder at the last offset, the practice reminder at
    its own (refused, InputError, when the webinar has no practice session)."""
    d = webinar.definition
    if template == SPEAKER_REMINDER.template:
        lead = min(d.speaker_reminder_offsets, default=timedelta(hours=2))
        return PreviewMail(template, offset_minutes=int(lead.total_seconds() // 60))
    if template == PRACTICE_REMINDER.template:
        if d.practice is None:
            raise InputError(f"{webinar.slug} has no [practice] session; docs/definition.md shows how to add one.")
        return PreviewMail(template, offset_minutes=int(d.practice.reminder.total_seconds() // 60))
    return PreviewMail(template)


def speaker_named(store: Store, webinar: WebinarRecord, wanted: str | None) -> SpeakerRecord:
    """The stored speaker `wanted` names, leniently: their address, or a part of their name
    (case, spacing and titles aside: `shim`, `Bokyun Shim`, `Mr Shim`); without `wanted`, the
    first with an address. Refuses (InputError) a name that fits nobody, or several, listing them."""
    speakers = store.speakers(webinar.id)
    if not speakers:
        raise InputError(f"{webinar.slug} names no speakers or moderator in its definition.")
    if wanted is None:
        return next((s for s in speakers if s.email), speakers[0])
    fits = [s for s in speakers if _names(s, wanted)]
    if len(fits) == 1:
        return fits[0]
    listed = "; ".join(s.name for s in (fits or speakers))
    if fits:
        raise InputError(f"--speaker {wanted!r} fits {len(fits)} people: {listed}. Give more of the name.")
    raise InputError(f"--speaker {wanted!r} names none of the speakers of {webinar.slug}: {listed}.")


_TITLES = {"mr", "mrs", "ms", "dr", "prof", "m", "mme"}


def _names(speaker: SpeakerRecord, wanted: str) -> bool:
    """Whether `wanted` names the speaker: their address, or words of their name in order."""
    folded = wanted.strip().casefold()
    if speaker.email and folded == speaker.email.casefold():
        return True
    words = [w for w in folded.replace(".", " ").split() if w not in _TITLES]
    name = " " + " ".join(w for w in speaker.name.casefold().replace(".", " ").split() if w not in _TITLES) + " "
    return bool(words) and f" {' '.join(words)} " in name


def _preview_after(webinar: WebinarRecord, to: str | None) -> PreviewMail:
    """The first after-message (to `to`, when given) as planning makes it: a version carries
    whom it is worded for (rule l)."""
    after = webinar.definition.after
    if not after:
        raise InputError(f"{webinar.slug} has no [[after]] messages; docs/definition.md shows how to add one.")
    chosen = next((m for m in after if m.to == to), None) if to else after[0]
    if chosen is None:
        sent_to = ", ".join(sorted({m.to for m in after}))
        raise InputError(
            f"{webinar.slug} has no [[after]] message to {to} (its messages go to: {sent_to}); "
            f'add to = "{to}" to one, as docs/definition.md shows.'
        )
    details = json.dumps({"message": chosen.to, "to": chosen.to}) if chosen.by_attendance else None
    return PreviewMail(AFTER.template, offset_minutes=int(chosen.delay.total_seconds() // 60), details=details)


def _told_revision(store: Store, webinar: WebinarRecord, registrant: Registrant | None) -> int:
    """The revision an update to this reader starts from: the one their last mail described
    (after two quick moves, the one before both); for a reader told nothing yet or already
    told this revision, the one before it."""
    told = Outbox(store).told_revision(registrant.id) if registrant and registrant.id is not None else None
    return told if told is not None and told < webinar.revision else webinar.revision - 1
