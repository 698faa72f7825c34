"""Calendar invites (iCalendar, RFC 5545/5546) for one webinar.

An `InviteBuilder` is made once per webinar revision: it builds the compact VTIMEZONE
(about 20 ms of work) once, and then each person's invite costs only their own event. The
invite follows docs/email-and-calendar checklist: METHOD:REQUEST, a stable UID per webinar,
SEQUENCE = the webinar's revision, ORGANIZER as a mailto: URI, ATTENDEE = the recipient,
and the personal join link in LOCATION, URL and DESCRIPTION.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Calendar, Event, vCalAddress

from webinar_ops import validate

PRODID = "-//webinar-ops//Webinar invites//EN"


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

    def _build_timezones(self) -> list:
        # A range around the event keeps the VTIMEZONE compact: Outlook misreads long RDATE lists.
        probe = Calendar.new(subcomponents=[Event.new(start=self._local(self.start), end=self._local(self.end))])
        probe.add_missing_timezones(
            first_date=(self.start - timedelta(days=366)).date(), last_date=(self.end + timedelta(days=366)).date()
        )
        return [c for c in probe.subcomponents if c.name == "VTIMEZONE"]

    def _local(self, instant: datetime) -> datetime:
        from webinar_ops.times import in_zone

        return in_zone(instant, self.time_zone)

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
            start=self._local(self.start),
            end=self._local(self.end),
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


def _cn(name: str | None) -> str | None:
    """A display name fit for CN=: no quotes and no control characters."""
    if not name:
        return None
    cleaned = validate.header_text(name).replace('"', "")
    return cleaned or None
