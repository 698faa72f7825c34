"""Calendar invites (iCalendar, RFC 5545/5546) for one webinar.

An `InviteBuilder` is made once per webinar revision: it builds the compact VTIMEZONE
(a few milliseconds of work) once, and then each person's invite costs only their own event. The
invite follows docs/email-and-calendar checklist: METHOD:REQUEST, a stable UID per webinar,
SEQUENCE = the webinar's revision, ORGANIZER as a mailto: URI, ATTENDEE = the recipient,
and the personal join link in LOCATION, URL and DESCRIPTION.

`invite` builds the whole calendar with icalendar. `fast_invite`, for sending waves, writes the
same calendar in a tenth of the time: the lines that are the same for everyone come from a
stencil (that calendar as icalendar writes it, built once), and only the recipient's own lines
are made anew, each by icalendar and folded here (`fold_content_line`, RFC 5545).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vCalAddress

from webinar_ops import times, validate

PRODID = "-//webinar-ops//Webinar invites//EN"
ZONE_SPAN = timedelta(days=366)  # the VTIMEZONE covers this much around the event, no more
PERSONAL = frozenset({"DTSTAMP", "ATTENDEE", "DESCRIPTION", "LOCATION", "URL"})  # what differs between invites
STENCIL_STAMP = datetime(2000, 1, 1, tzinfo=UTC)
FOLDED_LINE_END = re.compile(rb"\r\n(?! )")  # the end of a content line, not a fold within one
LINE_OCTETS = 75  # RFC 5545 3.1: a content line's lines are at most 75 octets, a fold's space included


class InviteBuilder:
    """Makes the invites of one webinar revision."""

    def __init__(
        self,
        uid: str,
        sequence: int,
        summary: str,
        start: datetime,
        end: datetime,
        time_zone: str,
        organizer_email: str,
        organizer_name: str | None,
    ):
        self.uid = uid
        self.sequence = sequence
        self.summary = summary
        self.start = start
        self.end = end
        self.time_zone = time_zone
        self.organizer_email = organizer_email
        self.organizer_name = organizer_name
        self._timezones = self._build_timezones()
        self._stencils: dict[tuple, list[bytes | str]] = {}

    def _build_timezones(self) -> list:
        # A range around the event keeps the VTIMEZONE compact: Outlook misreads long RDATE lists.
        return [vtimezone(self.time_zone, self.start - ZONE_SPAN, self.end + ZONE_SPAN)]

    def _local(self, instant: datetime) -> datetime:
        return times.in_zone(instant, self.time_zone)

    def _ical_time(self, instant: datetime) -> datetime:
        """The instant as the invite writes it: the wall time in the event's zone, or UTC when
        that wall time is the second of two (clocks going back during the webinar), because
        RFC 5545 reads a repeated wall time as its first occurrence, an hour early."""
        local = self._local(instant)
        return instant.astimezone(UTC) if local.fold else local

    def invite(
        self,
        attendee_email: str,
        attendee_name: str | None,
        join_url: str | None,
        description: str,
        stamp: datetime,
        method: str = "REQUEST",
    ) -> bytes:
        """The iCalendar bytes (CRLF, folded) of this person's invite."""
        status = "CANCELLED" if method == "CANCEL" else "CONFIRMED"
        event = Event.new(
            uid=self.uid,
            summary=self.summary,
            start=self._ical_time(self.start),
            end=self._ical_time(self.end),
            stamp=stamp,
            sequence=self.sequence,
            status=status,
            organizer=vCalAddress.new(self.organizer_email, cn=_cn(self.organizer_name)),
            attendees=[vCalAddress.new(attendee_email, cn=_cn(attendee_name), rsvp=False)],
            location=join_url,
            url=join_url,
            description=description,
        )
        calendar = Calendar.new(method=method, prodid=PRODID, subcomponents=[*self._timezones, event])
        calendar.pop("UID", None)  # Calendar.new adds a random one; invites must be reproducible
        return calendar.to_ical()

    def fast_invite(
        self,
        attendee_email: str,
        attendee_name: str | None,
        join_url: str | None,
        description: str,
        stamp: datetime,
        method: str = "REQUEST",
    ) -> bytes:
        """The same calendar as `invite`, made from the stencil: only the recipient's own lines
        (PERSONAL) are built, by icalendar, for each invite, and folded by `fold_content_line`."""
        own = Event()  # through the same setters as Event.new, which `invite` uses
        own.DTSTAMP = stamp
        own.description = description
        own.url = join_url
        own.location = join_url
        own.attendees = [vCalAddress.new(attendee_email, cn=_cn(attendee_name), rsvp=False)]
        lines = []
        for piece in self._stencil(method, join_url is not None, bool(description)):
            if isinstance(piece, bytes):
                lines.append(piece)
                continue
            values = own[piece] if isinstance(own[piece], list) else [own[piece]]
            lines += [fold_content_line(own.content_line(piece, value)) for value in values]
        return b"\r\n".join(lines) + b"\r\n"

    def _stencil(self, method: str, with_link: bool, with_description: bool) -> list[bytes | str]:
        """The invite's lines as written, with the name of each personal property in place
        of its line(s). Made once for each kind of invite."""
        key = (method, with_link, with_description)
        if key not in self._stencils:
            self._stencils[key] = self._make_stencil(*key)
        return self._stencils[key]

    def _make_stencil(self, method: str, with_link: bool, with_description: bool) -> list[bytes | str]:
        calendar = self.invite(
            "stencil@stencil.invalid",
            None,
            "https://stencil.invalid/" if with_link else None,
            "stencil" if with_description else "",
            STENCIL_STAMP,
            method,
        )
        pieces: list[bytes | str] = []
        for line in FOLDED_LINE_END.split(calendar)[:-1]:
            name = line.split(b":", 1)[0].split(b";", 1)[0].decode("ascii")
            if name not in PERSONAL:
                pieces.append(line)
            elif not pieces or pieces[-1] != name:
                pieces.append(name)
        return pieces


def fold_content_line(line: str) -> bytes:
    """One content line in UTF-8, folded as RFC 5545 3.1 asks: lines of at most 75 octets,
    each fold a CRLF and a space, and never inside a character's UTF-8 sequence."""
    data = line.encode("utf-8")
    pieces = []
    start, room = 0, LINE_OCTETS
    while len(data) - start > room:
        end = start + room
        while data[end] & 0xC0 == 0x80:  # a continuation byte: the character began before
            end -= 1
        pieces.append(data[start:end])
        start, room = end, LINE_OCTETS - 1  # a folded line begins with its space
    pieces.append(data[start:])
    return b"\r\n ".join(pieces)


def vtimezone(zone_name: str, first: datetime, last: datetime) -> Timezone:
    """The clock changes of `zone_name` between two instants, as a VTIMEZONE: one observance
    per kind of change, with its onsets as RDATEs.

    Built here rather than by icalendar, whose onsets of a change forward are the wall time
    after the change: RFC 5545 reads an onset on the clock before it (TZOFFSETFROM), so
    London's 01:00 GMT became 02:00 GMT, an hour late, and a webinar in that hour had no
    instant at all."""
    tz = times.zone(zone_name)
    opening = first.astimezone(tz).replace(microsecond=0)
    offset = opening.utcoffset()
    observances = {(offset, offset, opening.tzname(), bool(opening.dst())): [opening.replace(tzinfo=None)]}
    for before, after in _clock_changes(tz, first, last):
        key = (before.utcoffset(), after.utcoffset(), after.tzname(), bool(after.dst()))
        onset = after.astimezone(UTC) + before.utcoffset()  # the change's instant, on the clock before it
        observances.setdefault(key, []).append(onset.replace(tzinfo=None))
    component = Timezone()
    component.add("TZID", zone_name)
    for (offset_from, offset_to, name, is_dst), onsets in observances.items():
        observance = TimezoneDaylight() if is_dst else TimezoneStandard()
        observance.add("TZNAME", name or times.gmt_label(first, zone_name))
        observance.TZOFFSETFROM = offset_from
        observance.TZOFFSETTO = offset_to
        observance.DTSTART = onsets[0]
        if onsets[1:]:
            observance.add("RDATE", onsets[1:])
        component.add_component(observance)
    return component


def _clock_changes(tz: ZoneInfo, first: datetime, last: datetime) -> list[tuple[datetime, datetime]]:
    """(the last second before, the first second after) each change of offset or name,
    found six-hourly and then to the second."""
    changes = []
    step = timedelta(hours=6)
    at = first.astimezone(UTC).replace(microsecond=0)
    while at < last:
        low, high = at, min(at + step, last)
        if _reading(low, tz) != _reading(high, tz):
            while high - low > timedelta(seconds=1):
                middle = low + timedelta(seconds=(high - low).total_seconds() // 2)
                low, high = (middle, high) if _reading(middle, tz) == _reading(low, tz) else (low, middle)
            changes.append((low.astimezone(tz), high.astimezone(tz)))
        at += step
    return changes


def _reading(instant: datetime, tz: ZoneInfo) -> tuple:
    local = instant.astimezone(tz)
    return local.utcoffset(), local.tzname(), local.dst()


def _cn(name: str | None) -> str | None:
    """A display name fit for CN=: no quotes and no control characters."""
    if not name:
        return None
    cleaned = validate.header_text(name).replace('"', "")
    return cleaned or None
