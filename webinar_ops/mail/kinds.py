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


class Due(enum.Enum):
    """When a kind of mail falls due."""

    AT_ONCE = "at once"  # when it is planned: a confirmation, an update, a cancellation
    BEFORE_START = "before the start"  # its offset before the webinar starts: a reminder
    AFTER_END = "after the end"  # its offset after the webinar ends: an after-message


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

    @property
    def needs_the_provider(self) -> bool:
        """Whether it waits until the provider holds the reader: a mail that gives a seat (a
        join link) or an invite does; a word about their request (awaiting, denial) does not."""
        return self.join_link or self.invite_method is not None

    def due_at(self, definition: Definition, offset: timedelta | None, now: datetime) -> datetime:
        """When this mail falls due: `offset` before the start or after the end, or at once."""
        if offset is None or self.due is Due.AT_ONCE:
            return now
        return definition.end + offset if self.due is Due.AFTER_END else definition.start - offset

    def deadline(self, definition: Definition, due: datetime) -> datetime:
        """The last moment a retry may still send it: a reminder before the start, an
        after-message within AFTER_PATIENCE of its time, anything else before the end."""
        if self.due is Due.BEFORE_START:
            return definition.start
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

KINDS = {
    kind.template: kind
    for kind in (AWAITING, CONFIRMATION, DENIAL, REMINDER, UPDATE, CANCELLATION, AFTER, WAITLISTED, CALLED_OFF)
}
OTHERS_ORDER = 2  # sends by hand stand among the updates, cancellations and after-messages
BY_HAND = tuple(kind.template for kind in KINDS.values() if kind.by_hand)


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
    template, _, rest = name.partition("-")
    kind = None if is_manual(name) else KINDS.get(template)
    if kind is None:
        return (OTHERS_ORDER, 0, name)
    lead = -times.parse_duration(rest).total_seconds() if kind is REMINDER and rest else 0
    return (kind.order, lead, name)
