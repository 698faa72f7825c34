"""Composing mails: templates, times in two zones, the invite, and the MIME message.

A `Composer` is made once per webinar revision. Everything that is the same for every
recipient (the template environment, the agenda in the event's zone, the VTIMEZONE) is
prepared then; per message only the recipient's own parts are rendered.

Templates are Jinja2, as text and HTML twins with the subject a template too:
`NAME.subject.txt`, `NAME.txt`, `NAME.html`, with NAME `confirmation` or `reminder`. A
definition may name its own folder (`[mail] templates`); a template found there replaces the
default of the same name. All templates render in Jinja2's sandbox, so an organiser's
template cannot reach the host, and data (names, titles) is only ever substituted, never
evaluated as a template. HTML is autoescaped.
"""

from __future__ import annotations

import re
import textwrap
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from webinar_ops import times, validate
from webinar_ops.config import Settings
from webinar_ops.definition import Contact
from webinar_ops.invite import InviteBuilder
from webinar_ops.store import WebinarRecord

DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEXT_WIDTH = 76
_REPLY_PURPOSES = ("registration", "general", "substantive", "technical")


@dataclass(frozen=True)
class Rendered:
    """One mail's words: subject, plain text and HTML."""

    subject: str
    text: str
    html: str


def template_environment(custom_folder: str | None = None) -> ImmutableSandboxedEnvironment:
    """The sandboxed Jinja2 environment: the organiser's folder first, then the defaults.

    Immutable, too: a template cannot change the lists and dicts it is given, which are shared
    by every recipient's render (one person's data must never reach the next one's mail)."""
    folders = [custom_folder, str(DEFAULT_TEMPLATES)] if custom_folder else [str(DEFAULT_TEMPLATES)]
    return ImmutableSandboxedEnvironment(
        loader=ChoiceLoader([FileSystemLoader(folder) for folder in folders]),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


class Composer:
    """Writes the mails of one webinar revision."""

    def __init__(self, webinar: WebinarRecord, settings: Settings):
        self.webinar = webinar
        self.definition = webinar.definition
        self.env = template_environment(self.definition.mail.templates)
        self.sender_name, self.sender_address = settings.sender
        self.reply_to = _reply_contact(self.definition.contacts, settings.mail_reply_to)
        self._shared = self._shared_context()

    @cached_property
    def invites(self) -> InviteBuilder:
        organizer_name, organizer_email = self.reply_to or (self.sender_name, self.sender_address)
        d = self.definition
        return InviteBuilder(
            uid=self.webinar.calendar_uid,
            sequence=self.webinar.revision,
            summary=d.title,
            start=d.start,
            end=d.end,
            time_zone=d.time_zone,
            organizer_email=organizer_email,
            organizer_name=organizer_name,
        )

    # -- words --------------------------------------------------------------------------

    def render(self, template: str, registrant: dict, now: datetime, offset_minutes: int | None = None) -> Rendered:
        """Render `template` for one registrant. `offset_minutes` is how long before the start
        a scheduled reminder goes; manual ones say how long is left at `now`."""
        context = {**self._shared, **self._personal(registrant, now, offset_minutes)}
        subject = self.env.get_template(f"{template}.subject.txt").render(context)
        text = self.env.get_template(f"{template}.txt").render(context)
        html = self.env.get_template(f"{template}.html").render(context)
        return Rendered(subject=validate.header_text(subject), text=wrap_text(text), html=html)

    def _shared_context(self) -> dict[str, Any]:
        d = self.definition
        zone = d.time_zone
        return {
            "webinar": {
                "title": d.title,
                "series": d.series,
                "series_theme": d.series_theme,
                "session": d.session,
                "organisers": list(d.organisers),
                "description": d.description,
                "moderator": d.moderator.describe() if d.moderator else None,
                "registration_url": self.webinar.registration_url,
            },
            "when": {
                "event": times.format_span(d.start, d.end, zone),
                "day": times.format_day(d.start, zone),
                "zone_label": times.zone_label(zone),
            },
            "agenda": [
                {
                    "start": item.start,
                    "end": item.end,
                    "time": times.format_clock_span(item.start, item.end, zone),
                    "title": item.title,
                    "speakers": [speaker.describe() for speaker in item.speakers],
                }
                for item in d.agenda
            ],
            "questions": [{"part": g.part, "items": list(g.items)} for g in d.questions]
            if d.mail.include_questions
            else [],
            "readings": [{"title": r.title, "url": r.url} for r in d.readings] if d.mail.include_readings else [],
            "contacts": [{"purpose": c.purpose_label, "who": c.describe(), "email": c.email} for c in d.contacts],
            "cancel_address": self.reply_to[1] if self.reply_to else self.sender_address,
        }

    def _personal(self, registrant: dict, now: datetime, offset_minutes: int | None) -> dict[str, Any]:
        d = self.definition
        zone = registrant.get("time_zone")
        local_zone = zone if zone and zone != d.time_zone else None
        lead = timedelta(minutes=offset_minutes) if offset_minutes is not None else d.start - now
        agenda = self._shared["agenda"]
        return {
            "person": {
                "first_name": registrant["first_name"],
                "last_name": registrant.get("last_name"),
                "email": registrant["email"],
                "time_zone": zone,
            },
            "when_local": times.format_reader_span(d.start, d.end, d.time_zone, local_zone) if local_zone else None,
            "local_times": [times.format_clock_span(i["start"], i["end"], local_zone) for i in agenda]
            if local_zone
            else None,
            "join_url": registrant.get("join_url") or self.webinar.join_url,
            "join_is_personal": bool(registrant.get("join_url")),
            "starts_in": times.describe_lead(lead),
        }

    # -- the message --------------------------------------------------------------------

    def message(self, delivery: dict, registrant: dict, now: datetime) -> EmailMessage:
        """The complete mail for one delivery row, with its stored Message-ID."""
        words = self.render(delivery["template"], registrant, now, delivery.get("offset_minutes"))
        message = EmailMessage(policy=policy.SMTP)
        message["From"] = _address(self.sender_name, self.sender_address)
        message["To"] = _address(_full_name(registrant), registrant["email"])
        if self.reply_to:
            message["Reply-To"] = _address(*self.reply_to)
        message["Subject"] = words.subject
        message["Date"] = format_datetime(now)
        message["Message-ID"] = delivery["message_id"]
        message["Auto-Submitted"] = "auto-generated"
        message["X-Auto-Response-Suppress"] = "OOF, AutoReply"
        message["List-Unsubscribe"] = f"<{self._unsubscribe_mailto()}>"
        invite = self._invite(registrant, words, now)
        message.set_content(words.text)
        message.add_alternative(words.html, subtype="html")
        message.add_alternative(
            invite.decode("utf-8"), subtype="calendar", cte="base64", params={"method": "REQUEST", "name": "invite.ics"}
        )
        message.add_attachment(
            invite, maintype="application", subtype="ics", filename="invite.ics", params={"name": "invite.ics"}
        )
        _stable_boundaries(message, delivery["message_id"])
        return message

    def message_bytes(self, delivery: dict, registrant: dict, now: datetime) -> bytes:
        """The message as sent over SMTP: CRLF line ends."""
        return self.message(delivery, registrant, now).as_bytes(policy=policy.SMTP)

    def _invite(self, registrant: dict, words: Rendered, now: datetime) -> bytes:
        join_url = registrant.get("join_url") or self.webinar.join_url
        description = f"Join: {join_url}\n\n" if join_url else ""
        description += f"{times.format_span(self.definition.start, self.definition.end, self.definition.time_zone)}"
        description += "".join(
            f"\n{item['time']}  {item['title']}" + "".join(f"\n    {s}" for s in item["speakers"])
            for item in self._shared["agenda"]
        )
        return self.invites.invite(registrant["email"], _full_name(registrant), join_url, description, now)

    def _unsubscribe_mailto(self) -> str:
        address = self.reply_to[1] if self.reply_to else self.sender_address
        return f"mailto:{address}?subject={quote('Unsubscribe ' + self.webinar.slug)}"


def _stable_boundaries(message: EmailMessage, message_id: str) -> None:
    """Boundaries derived from the Message-ID, so the same mail always has the same bytes
    (the email package would pick random ones)."""
    seed = uuid.uuid5(uuid.NAMESPACE_URL, message_id).hex
    for depth, part in enumerate(p for p in message.walk() if p.is_multipart()):
        part.set_boundary(f"=_{seed}_{depth}")


def wrap_text(text: str, width: int = TEXT_WIDTH) -> str:
    """Wrap long lines for a plain mail client, keeping each line's indent (and a bullet's
    hanging indent) and never breaking a link."""
    lines = []
    for line in text.splitlines():
        if len(line) <= width:
            lines.append(line if line == "-- " else line.rstrip())  # "-- " is the signature separator
            continue
        indent = re.match(r"\s*(?:[-*•] |\d+\. )?", line).group(0)
        lines.append(
            textwrap.fill(
                line.strip(),
                width=width,
                initial_indent=line[: len(line) - len(line.lstrip())],
                subsequent_indent=" " * len(indent),
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines) + "\n"


def _reply_contact(contacts: tuple[Contact, ...], fallback: str | None) -> tuple[str | None, str] | None:
    """Who replies reach: the webinar's registration contact, else another contact, else MAIL_REPLY_TO."""
    for purpose in _REPLY_PURPOSES:
        for contact in contacts:
            if contact.purpose == purpose:
                return contact.name, contact.email
    if fallback:
        from email.utils import parseaddr

        name, address = parseaddr(fallback)
        return name or None, address
    return None


def _full_name(registrant: dict) -> str:
    return " ".join(part for part in (registrant.get("first_name"), registrant.get("last_name")) if part)


def _address(name: str | None, address: str) -> Address:
    """A header address built from parts, so that a name can never smuggle in a second address."""
    local, _, domain = address.rpartition("@")
    return Address(display_name=validate.header_text(name or ""), username=local, domain=domain)
