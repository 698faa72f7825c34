"""The kinds of mail: one declaration each, read by planning, sending, composing, the status
and the command line.

A kind names its template, when it falls due, the last moment it may still go, whom it skips
and why, what it carries (a join link, calendar links, an unsubscribe link, a cancel link, an invite and its
iTIP method), where it stands in the status, and whether an organiser may send it by hand.
A new kind of mail is one declaration in KINDS plus its templates.

A delivery row's `kind` tells one mail of its `template` from another of the same template:
`reminder-1d` and `reminder-1h` are two reminders, `update-3` the update to revision 3, and
`manual-reminder-20210430T050000000000Z` a reminder an organiser sent by hand at that time,
and `after-1d-attended` the after-message of one day for those who attended.
The speakers' kinds go to the webinar's speakers and moderator alone, never to a registrant:
`briefing-2` their briefing for their slot's revision 2, `speaker-reminder-2h` a reminder
two hours before the start, `practice-reminder` the reminder of the practice session and
`speaker-cancellation` the word that the webinar is cancelled.
The functions at the end make and read those names; nothing else spells them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from webinar_ops import times

AFTER_PATIENCE = timedelta(days=7)  # an after-message that could not go within this is dropped
MANUAL_PREFIX = "manual-"


class Definition(Protocol):
    """What the rules read of a webinar's definition (definition.Definition has it)."""

    start: datetime
    end: datetime
    reminder_grace: timedelta
    practice: Practice | None


class Practice(Protocol):
    """What the rules read of the speakers' practice session (definition.Practice has it)."""

    start: datetime
    reminder: timedelta


class Due(enum.Enum):
    """When a kind of mail falls due."""

    AT_ONCE = "at once"  # when it is planned: a confirmation, an update, a cancellation
    BEFORE_START = "before the start"  # its offset before the webinar starts: a reminder
    AFTER_END = "after the end"  # its offset after the webinar ends: an after-message
    BEFORE_PRACTICE = "before the practice"  # its offset before the speakers' practice starts


@dataclass(frozen=True)
class Kind:
    """One kind of mail and every rule that depends on it."""

    template: str
    order: int  # its place in the status, before the kind's own order (a reminder's lead)
    due: Due
    invite_method: str | None  # the invite's iTIP method, or None for no invite
    join_link: bool = True  # a cancellation's reader has nothing left to join
    calendar_links: bool = True  # "add to your calendar" links and the .ics download
    unsubscribe: bool = True  # List-Unsubscribe and the link; a cancellation is the last mail
    cancel_link: bool = False  # the reader's own link to cancel their registration (web.py's /c/TOKEN)
    skips_unsubscribed: bool = False
    by_hand: bool = False  # `webinar-ops remind --kind` may send it
    outlives_cancellation: bool = False  # still goes when the webinar is cancelled
    audience: tuple[str, ...] = ("approved",)  # the registrant statuses it goes to
    to_speakers: bool = False  # goes to the speakers and the moderator, and to no registrant
    stem: str = ""  # how its delivery names start, when not as its template: `speaker-reminder`

    @property
    def name_stem(self) -> str:
        """How the names of its deliveries start: `reminder` (`reminder-1d`), `speaker-reminder`."""
        return self.stem or self.template

    @property
    def needs_the_provider(self) -> bool:
        """Whether it waits until the provider holds the reader: a mail that gives a seat (a
        join link) or an invite does; a word about their request (awaiting, denial) does not."""
        return self.join_link or self.invite_method is not None

    def due_at(self, definition: Definition, offset: timedelta | None, now: datetime) -> datetime:
        """When this mail falls due: `offset` before the start or after the end, or at once."""
        if offset is None or self.due is Due.AT_ONCE:
            return now
        if self.due is Due.BEFORE_PRACTICE:
            return _practice(definition).start - offset
        return definition.end + offset if self.due is Due.AFTER_END else definition.start - offset

    def deadline(self, definition: Definition, due: datetime) -> datetime:
        """The last moment a retry may still send it: a reminder before the start, an
        after-message within AFTER_PATIENCE of its time, anything else before the end."""
        if self.due is Due.BEFORE_START:
            return definition.start
        if self.due is Due.BEFORE_PRACTICE:  # a practice taken out meanwhile: no later than the start
            return definition.practice.start if definition.practice else definition.start
        if self.due is Due.AFTER_END:
            return due + AFTER_PATIENCE
        return definition.end

    def reason_to_skip(self, status: str, unsubscribed: bool) -> str | None:
        """Why a registrant of `status`, who `unsubscribed` or not, must not get this mail,
        whenever it would go, or None."""
        if status not in self.audience:
            return f"registration {status}"
        if self.skips_unsubscribed and unsubscribed:
            return "they unsubscribed from the reminders"
        return None

    def too_late(self, definition: Definition, due: datetime, now: datetime, *, scheduled: bool, tried: bool):
        """Why this mail, due at `due`, may no longer go at `now`, as (state, reason), or None.

        A scheduled reminder is missed once the webinar has started, and, if no attempt was
        made, once its grace period has passed (it fell due while no sender ran); a reminder
        sent by hand has neither rule. An after-message waits at most AFTER_PATIENCE. Anything
        else goes until the end.
        """
        if self.due is Due.BEFORE_PRACTICE:
            return _too_late_for_the_practice(definition, due, now, tried)
        if self.due is Due.BEFORE_START and scheduled:
            if now >= definition.start:
                return "missed", "the webinar had started before it could be sent"
            if not tried and now > due + definition.reminder_grace:
                return "missed", (
                    f"it fell due at {times.iso_utc(due)} while no sender was running, "
                    f"and the grace period ({times.format_duration(definition.reminder_grace)}) had passed"
                )
        if self.due is Due.AFTER_END:
            if now > due + AFTER_PATIENCE:
                return "skipped", f"it could not go within {times.format_duration(AFTER_PATIENCE)} of its time"
            return None
        if now >= definition.end:
            return "skipped", "the webinar was over"
        return None


def _practice(definition: Definition) -> Practice:
    if definition.practice is None:
        raise ValueError("the definition has no [practice] session")
    return definition.practice


def _too_late_for_the_practice(definition: Definition, due: datetime, now: datetime, tried: bool):
    """A practice reminder's rules a and c: missed once the practice has started, and when
    it fell due while no sender ran and the grace period has passed."""
    if definition.practice is None:
        return "skipped", "the practice session was taken out of the definition"
    if now >= definition.practice.start:
        return "missed", "the practice had started before it could be sent"
    if not tried and now > due + definition.reminder_grace:
        return "missed", (
            f"it fell due at {times.iso_utc(due)} while no sender was running, "
            f"and the grace period ({times.format_duration(definition.reminder_grace)}) had passed"
        )
    return None


CONFIRMATION = Kind("confirmation", order=0, due=Due.AT_ONCE, invite_method="REQUEST", by_hand=True, cancel_link=True)
REMINDER = Kind(
    "reminder",
    order=1,
    due=Due.BEFORE_START,
    invite_method="REQUEST",
    skips_unsubscribed=True,
    by_hand=True,
    cancel_link=True,
)
UPDATE = Kind("update", order=2, due=Due.AT_ONCE, invite_method="REQUEST")
CANCELLATION = Kind(
    "cancellation",
    order=2,
    due=Due.AT_ONCE,
    invite_method="CANCEL",
    join_link=False,
    calendar_links=False,
    unsubscribe=False,
    outlives_cancellation=True,
)
AFTER = Kind("after", order=2, due=Due.AFTER_END, invite_method=None, calendar_links=False, skips_unsubscribed=True)


def seatless(template: str, *statuses: str, **rules) -> Kind:
    """A word to people of these `statuses` that gives no seat: due at once, first in the
    status, with no join link, invite or calendar links; `rules` adds the rest."""
    return Kind(
        template,
        order=0,
        due=Due.AT_ONCE,
        invite_method=None,
        join_link=False,
        calendar_links=False,
        audience=statuses,
        **rules,
    )


# A word about a request that waits for the organiser's approval, and about its denial: each is
# the one mail of its kind, with nothing to stop.
AWAITING = seatless("awaiting", "pending", unsubscribe=False)
DENIAL = seatless("denial", "denied", unsubscribe=False)
# To someone put on the waitlist: their place in the queue, that a seat brings the confirmation,
# and their link to leave the queue.
WAITLISTED = seatless("waitlisted", "waitlisted", cancel_link=True)
# To those who asked for a place and hold none when the webinar is cancelled (pending and
# waitlisted people): it will not take place. They have no calendar entry to take back, so
# unlike the cancellation it carries no invite. Planned only for a cancelled webinar.
CALLED_OFF = seatless("called_off", "pending", "waitlisted", unsubscribe=False, outlives_cancellation=True)

# The speakers' mails: to the speakers and the moderator, never to a registrant (no registrant
# status is in their audience), and never with a registrant's links (calendar, unsubscribe,
# cancel). Each waits for the speaker's own panelist link from the provider, as a
# registrant's confirmation waits for theirs; the cancellation needs none.
SPEAKERS_ORDER = 3  # in the status, after every registrant's mail


def for_speakers(template: str, due: Due, invite_method: str | None, **rules) -> Kind:
    """A kind of mail to the speakers, of `template`, with names that start as `template`
    with hyphens (`speaker-reminder-2h`)."""
    return Kind(
        template,
        order=SPEAKERS_ORDER,
        due=due,
        invite_method=invite_method,
        calendar_links=False,
        unsubscribe=False,
        audience=(),
        to_speakers=True,
        stem=template.replace("_", "-"),
        **rules,
    )


# Their part: their items and times, the others of their items, their questions, the practice,
# their link and an invite of their own; again when their slot changes (`briefing-N`).
BRIEFING = for_speakers("briefing", Due.AT_ONCE, "REQUEST")
SPEAKER_REMINDER = for_speakers("speaker_reminder", Due.BEFORE_START, None)  # their slot and link
PRACTICE_REMINDER = for_speakers("practice_reminder", Due.BEFORE_PRACTICE, None)  # the practice and link
SPEAKER_CANCELLATION = for_speakers(
    "speaker_cancellation", Due.AT_ONCE, "CANCEL", join_link=False, outlives_cancellation=True
)

KINDS = {
    kind.template: kind
    for kind in (
        AWAITING,
        CONFIRMATION,
        DENIAL,
        REMINDER,
        UPDATE,
        CANCELLATION,
        AFTER,
        WAITLISTED,
        CALLED_OFF,
        BRIEFING,
        SPEAKER_REMINDER,
        PRACTICE_REMINDER,
        SPEAKER_CANCELLATION,
    )
}
FOR_SPEAKERS = tuple(kind.template for kind in KINDS.values() if kind.to_speakers)
OTHERS_ORDER = 2  # sends by hand stand among the updates, cancellations and after-messages
BY_HAND = tuple(kind.template for kind in KINDS.values() if kind.by_hand)
_BY_STEM = sorted(KINDS.values(), key=lambda kind: -len(kind.name_stem))  # `speaker-reminder` before any `speaker`


def of(template: str) -> Kind:
    """The kind whose template is `template` (a delivery row's `template` column)."""
    return KINDS[template]


def reminder_name(offset: timedelta) -> str:
    """`reminder-1d`, `reminder-1h30m`: the reminder sent `offset` before the start."""
    return f"{REMINDER.template}-{times.format_duration(offset)}"


def after_name(delay: timedelta, to: str = "everyone") -> str:
    """`after-2h`, `after-1d`: the message sent `delay` after the end to everyone;
    `after-1d-attended`, `after-1d-absent`: its version for those who came, or did not."""
    name = f"{AFTER.template}-{times.format_duration(delay)}"
    return name if to == "everyone" else f"{name}-{to}"


def update_name(revision: int) -> str:
    """`update-3`: the update that brings a calendar to `revision`."""
    return f"{UPDATE.template}-{revision}"


def briefing_name(slot_revision: int) -> str:
    """`briefing-2`: the briefing for a speaker's slot at its revision 2 (their invite's SEQUENCE)."""
    return f"{BRIEFING.name_stem}-{slot_revision}"


def speaker_reminder_name(offset: timedelta) -> str:
    """`speaker-reminder-2h`: the speakers' reminder sent `offset` before the start."""
    return f"{SPEAKER_REMINDER.name_stem}-{times.format_duration(offset)}"


PRACTICE_REMINDER_NAME = PRACTICE_REMINDER.name_stem  # one per speaker: `practice-reminder`
SPEAKER_CANCELLATION_NAME = SPEAKER_CANCELLATION.name_stem


def manual_name(template: str, asked: datetime) -> str:
    """`manual-reminder-20210430T050000000000Z`: a send by hand, named by when it was asked
    for, so that a later one is a new mail and none touches the scheduled ones."""
    return f"{MANUAL_PREFIX}{template}-{asked:%Y%m%dT%H%M%S%fZ}"


def is_manual(name: str) -> bool:
    """Whether the delivery named `name` is a send by hand."""
    return name.startswith(MANUAL_PREFIX)


def status_order(name: str) -> tuple:
    """Where the mail named `name` stands in the status: the confirmation first, reminders
    from the earliest (7d) to the last (1h), then every other mail by its name."""
    kind, rest = (None, "") if is_manual(name) else _kind_named(name)
    if kind is None:
        return (OTHERS_ORDER, 0, name)
    lead = -times.parse_duration(rest).total_seconds() if kind in (REMINDER, SPEAKER_REMINDER) and rest else 0
    return (kind.order, lead, name)


def _kind_named(name: str) -> tuple[Kind | None, str]:
    """The kind of the delivery named `name` and the rest of its name (`1d` of `reminder-1d`)."""
    for kind in _BY_STEM:
        if name == kind.name_stem or name.startswith(f"{kind.name_stem}-"):
            return kind, name[len(kind.name_stem) + 1 :]
    return None, ""
