"""What a reader's calendar entry says, and the links that add it to a calendar on the web.

Every mail with an invite carries it twice: as `invite.ics` (Apple Calendar, Thunderbird,
Outlook and Gmail read it) and as "Add to calendar" links for Google Calendar and for Outlook
on the web, which open the calendar's own "new event" page filled in: the title, the start
and end in UTC, the join link as the location, and a few lines of details.

The links carry the reader's personal join link, as the invite does: the entry lands in the
reader's own calendar, where the link is what they need on the day, and a link is only sent
to Google or Microsoft when its reader clicks it. Nothing else personal (name, address) is
in them.

Outlook has two web addresses: outlook.office.com for work and school accounts (Microsoft 365)
and outlook.live.com for personal ones (Outlook.com); a calendar opened at the wrong one asks
the reader to sign in to the other kind of account, so the mails offer both.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import quote

from webinar_ops import wording

GOOGLE = "https://calendar.google.com/calendar/render"
MICROSOFT_365 = "https://outlook.office.com/calendar/0/deeplink/compose"
OUTLOOK_COM = "https://outlook.live.com/calendar/0/deeplink/compose"
# The template names of the links: each is the reader's own (it holds their join link).
LINK_NAMES = ("google_calendar_link", "microsoft_365_calendar_link", "outlook_com_calendar_link")


def description(join_url: str | None, when: str, agenda: Iterable[str], language: str) -> str:
    """The invite's DESCRIPTION: the join link, then the time and the agenda's lines."""
    head = f"{_join_line(join_url, language)}\n\n" if join_url else ""
    return head + when + "".join(f"\n{line}" for line in agenda)


def details(join_url: str | None, heading: str | None, language: str) -> str:
    """The short text of a calendar entry added by link: the join link, and the series and
    session the webinar belongs to. The agenda stays in the mail: links must stay short."""
    first = _join_line(join_url, language) if join_url else wording.of(language).link_to_follow
    return f"{first}\n\n{heading}" if heading else first


def _join_line(join_url: str | None, language: str) -> str:
    return wording.of(language).join % {"link": join_url}


def links(title: str, start: datetime, end: datetime, join_url: str | None, details_text: str) -> dict[str, str]:
    """The three "Add to calendar" links, by their template name."""
    return {
        "google_calendar_link": google(title, start, end, join_url, details_text),
        "microsoft_365_calendar_link": outlook(MICROSOFT_365, title, start, end, join_url, details_text),
        "outlook_com_calendar_link": outlook(OUTLOOK_COM, title, start, end, join_url, details_text),
    }


class LinkMaker:
    """The links of one webinar revision in one language, for any reader. Everything but the
    join link is encoded once: each value is percent-encoded whole, and the encoding of a
    value is the encoding of its pieces, so a reader's links are the links made with a marker
    for the join link, the marker replaced by the reader's link encoded. A wave pays one
    `quote` a mail instead of a dozen."""

    def __init__(self, title: str, start: datetime, end: datetime, heading: str | None, language: str):
        self._mark = f"joinlink{secrets.token_hex(8)}"  # random: no title can hold it
        self._with_link = links(title, start, end, self._mark, details(self._mark, heading, language))
        self._without_link = links(title, start, end, None, details(None, heading, language))

    def links(self, join_url: str | None) -> dict[str, str]:
        """The reader's links: the same as `links` with their join link and its details."""
        if not join_url:
            return self._without_link
        encoded = quote(join_url, safe="")
        return {name: link.replace(self._mark, encoded) for name, link in self._with_link.items()}


def google(title: str, start: datetime, end: datetime, location: str | None, details_text: str) -> str:
    """Google Calendar's event template: `dates` are UTC, `YYYYMMDDTHHMMSSZ/YYYYMMDDTHHMMSSZ`."""
    dates = f"{_compact(start)}/{_compact(end)}"
    fields = [("action", "TEMPLATE"), ("text", title), ("dates", dates), ("details", details_text)]
    return f"{GOOGLE}?{_query(fields, location)}"


def outlook(base: str, title: str, start: datetime, end: datetime, location: str | None, details_text: str) -> str:
    """Outlook on the web's compose deep link: `startdt` and `enddt` are ISO 8601 in UTC."""
    fields = [
        ("path", "/calendar/action/compose"),
        ("rru", "addevent"),
        ("subject", title),
        ("startdt", _iso(start)),
        ("enddt", _iso(end)),
        ("body", details_text),
    ]
    return f"{base}?{_query(fields, location)}"


def _query(fields: list[tuple[str, str]], location: str | None) -> str:
    """Each value percent-encoded whole (a `&` or `#` in a title cannot end it); `/` stays
    as it is only in Google's `dates`, which is written that way."""
    if location:
        fields = [*fields, ("location", location)]
    return "&".join(f"{name}={quote(value, safe='/' if name == 'dates' else '')}" for name, value in fields)


def _compact(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
