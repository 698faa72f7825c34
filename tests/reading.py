"""Reading a mail back as its reader's programs do, to check what `Composer.message_bytes` wrote.

The reference is what the mail means, built apart from mime.py: the words from the plain
render (`Composer.render`), the invite as icalendar writes it whole (`InviteBuilder.invite`),
and the headers and parts laid out with the email package (`reference`). The mail written
must read back the same: every header decoded, every part's decoded content, and the invite's
content lines once unfolded (RFC 5545), which icalendar and vobject must also read.
"""

from __future__ import annotations

import email
import json
import re
from datetime import datetime
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

import icalendar
import vobject

from webinar_ops import validate
from webinar_ops.mail import kinds
from webinar_ops.mail.compose import Composer, Letter
from webinar_ops.mail.outbox import Delivery, State
from webinar_ops.store import Registrant

READER = policy.default  # how the email package reads a mail, headers decoded
ADDRESS_HEADERS = ("From", "To", "Reply-To")
MAX_LINE = 78


def planned(
    template: str, offset_minutes: int | None = None, message_id: str = "<mail@webinars.example.org>"
) -> Delivery:
    """A pending delivery of `template`, as planning writes it (`offset_minutes` before the
    start for a reminder, after the end for an after-message), for composing to write."""
    stamp = "2021-04-20T09:00:00Z"
    name = template if offset_minutes is None else f"{template}-{offset_minutes}m"
    return Delivery(
        id=1,
        webinar_id=1,
        registrant_id=1,
        kind=name,
        template=template,
        offset_minutes=offset_minutes,
        revision=0,
        due_at=stamp,
        send_after=stamp,
        state=State.PENDING,
        reason=None,
        message_id=message_id,
        attempts=0,
        last_error=None,
        lease_until=None,
        claimed_by=None,
        sent_at=None,
        created_at=stamp,
        updated_at=stamp,
        details=None,
    )


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=READER)


def unfolded(ics: bytes) -> list[str]:
    """The content lines of an iCalendar text, unfolded as RFC 5545 3.1 says."""
    return ics.decode("utf-8").replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")


def reference(composer: Composer, delivery: Letter, registrant: Registrant, now: datetime) -> EmailMessage:
    """The mail as the reader should see it, laid out by the email package."""
    words = composer.render(delivery.template, registrant, now, delivery.offset_minutes, _details(delivery))
    method = kinds.of(delivery.template).invite_method
    full_name = " ".join(p for p in (registrant.first_name, registrant.last_name) if p)
    # Unfolded: the email package's folder can drop the space where it splits a name's
    # encoded words, so a folded reference would mean less than the name it was given (its
    # content manager needs a number: one no line reaches).
    message = EmailMessage(policy=policy.SMTP.clone(max_line_length=10**6))
    message["From"] = _address(composer.sender_name, composer.sender_address)
    message["To"] = _address(full_name, validate.email_address(registrant.email))
    if composer.reply_to:
        message["Reply-To"] = _address(*composer.reply_to)
    message["Subject"] = words.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = delivery.message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    url = composer.unsubscribe_url(registrant)
    message["List-Unsubscribe"] = composer._list_unsubscribe(url).replace("\r\n", "")
    if url:
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(words.text)
    message.add_alternative(words.html, subtype="html")
    if method:
        invite = composer._invite(registrant, now, composer.invites.invite, method)
        params = {"method": method, "name": "invite.ics"}
        message.add_alternative(invite.decode("utf-8"), subtype="calendar", cte="base64", params=params)
        message.add_attachment(
            invite, maintype="application", subtype="ics", filename="invite.ics", params={"name": "invite.ics"}
        )
    return parse(message.as_bytes())


def assert_reads_as_meant(composer: Composer, delivery: Letter, registrant: Registrant, now: datetime) -> bytes:
    """Check the mail `message_bytes` writes against `reference`; returns its bytes."""
    raw = composer.message_bytes(delivery, registrant, now, sign=False)
    assert_well_formed(raw)
    assert_same_reading(parse(raw), reference(composer, delivery, registrant, now))
    return raw


def assert_well_formed(raw: bytes) -> None:
    """CRLF line ends, ASCII only, headers folded at 78 (but for a word too long to fold)."""
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        words = line.partition(b": ")[2] if line[:1] != b" " else line
        assert len(line) <= MAX_LINE or b" " not in words.strip(), line
    assert max(map(len, raw.split(b"\r\n"))) <= 998


def assert_same_reading(ours: EmailMessage, meant: EmailMessage) -> None:
    """The two messages read the same: headers in order, decoded; parts, decoded."""
    assert _header_names(ours) == _header_names(meant)
    for name in _header_names(ours):
        assert _reading(ours, name) == _reading(meant, name), name
    ours_parts, meant_parts = list(ours.walk()), list(meant.walk())
    assert [p.get_content_type() for p in ours_parts] == [p.get_content_type() for p in meant_parts]
    for got, want in zip(ours_parts, meant_parts, strict=True):
        assert _params(got) == _params(want)
        assert got.get_content_disposition() == want.get_content_disposition()
        assert got.get_filename() == want.get_filename()
        if not got.is_multipart():
            assert_same_content(got, want)


def assert_same_content(got: EmailMessage, want: EmailMessage) -> None:
    if got.get_content_maintype() == "text" and got.get_content_subtype() != "calendar":
        assert got.get_content() == want.get_content()
        return
    ours, meant = got.get_payload(decode=True), want.get_payload(decode=True)
    assert unfolded(ours) == unfolded(meant)
    assert_calendars_read(ours)


def assert_calendars_read(ics: bytes) -> None:
    """icalendar and vobject read the invite, and find in it what it unfolds to."""
    lines = unfolded(ics)
    event = icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]
    parsed = vobject.readOne(ics.decode("utf-8"))
    assert str(event["UID"]) == parsed.vevent.uid.value
    description = next((line for line in lines if line.startswith("DESCRIPTION:")), None)
    if description is not None:
        assert event["DESCRIPTION"] == parsed.vevent.description.value
        assert _ical_escaped(event["DESCRIPTION"]) == description.removeprefix("DESCRIPTION:")


def _ical_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def read_addresses(raw_value: str) -> list[tuple[str, str]]:
    """(display name, address) of each address in an address header's raw value, the names
    decoded as RFC 2047 says: the email package's parser of address headers keeps a space
    between two encoded words, which mail programs (and its own RFC 2047 decoder) drop."""
    unfolded_value = re.sub(r"\r?\n(?=[ \t])", "", raw_value)
    return [(str(make_header(decode_header(name))), address) for name, address in getaddresses([unfolded_value])]


def _params(part: EmailMessage) -> list[tuple[str, str]]:
    return [(key, value) for key, value in part.get_params() or [] if key != "boundary"]


def _header_names(message: EmailMessage) -> list[str]:
    return [name for name in message if name != "Content-Transfer-Encoding"]


def _reading(message: EmailMessage, name: str):
    header = message[name]
    if name in ADDRESS_HEADERS:
        return read_addresses(next(value for key, value in message.raw_items() if key == name))
    if name == "Content-Type":
        return message.get_content_type()
    return re.sub(r"\s+", " ", str(header)).strip()


def _address(name: str | None, address: str) -> Address:
    local, _, domain = address.rpartition("@")
    return Address(display_name=validate.display_name(name or ""), username=local, domain=domain)


def _details(delivery: Letter) -> dict | None:
    return json.loads(delivery.details) if delivery.details else None
