"""Composing mails: the MIME message, the calendar invite, times in two zones, content,
personal links, injection, organiser templates, wrapping, snapshots and `preview`.

Every test builds its mail the way the service does: the sample webinar saved in a real
store, registrants as rows of the registrants table (by hand, or registered with the real
`local` provider), and a Composer made from the stored record.
"""

from __future__ import annotations

import dataclasses
import email
import html
import os
import re
import unicodedata
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import icalendar
import pytest
import vobject
from conftest import NOW, SAMPLE_CSV, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant, reader
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from jinja2.exceptions import SecurityError
from markupsafe import escape
from reading import planned

from webinar_ops import calendar_entry, times, validate
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.errors import InputError
from webinar_ops.mail.compose import Composer, Rendered, TemplateRefused, wrap_text
from webinar_ops.mail.outbox import Delivery, Outbox
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.registrants import apply_import, plan_import
from webinar_ops.store import Registrant, Store, WebinarRecord
from webinar_ops.sync import sync_webinar

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
BASE_URL = "https://webinars.example.org"
START = datetime(2021, 4, 30, 6, 0, tzinfo=UTC)  # 15:00 in Seoul
AN_HOUR_BEFORE = datetime(2021, 4, 30, 5, 0, tzinfo=UTC)
LATER = datetime(2021, 4, 30, 5, 7, 31, tzinfo=UTC)  # a retry, a few minutes on
AMELIE = "amelie.laurent@example.org"
AMELIE_LINK = f"{BASE_URL}/j/amelie-personal-join-token-0123456789"
REGISTRATION_CONTACT = "jihyun.joung@un.org"
TEXT_WIDTH = 76
URL = re.compile(r"https?://\S+")


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY, base_url=BASE_URL)


@pytest.fixture
def webinar(store: Store) -> WebinarRecord:
    """The sample webinar, saved and not yet published (so it has no shared join link)."""
    return save(store, SAMPLE_DEFINITION)


@pytest.fixture
def composer(webinar: WebinarRecord, settings: Settings) -> Composer:
    return Composer(webinar, settings)


@pytest.fixture
def synced(store: Store, settings: Settings) -> WebinarRecord:
    """The sample webinar with the 15 sample registrants registered at the local provider
    (each has a personal join link) and their mail planned in the outbox."""
    record = save(store, SAMPLE_DEFINITION)
    apply_import(store, record, plan_import(store, record, SAMPLE_CSV), NOW)
    sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), NOW)
    record = store.webinar(SAMPLE_SLUG)
    plan_webinar(store, record, NOW, settings.mail_domain)
    return record


# -- building blocks ------------------------------------------------------------------------


def save(store: Store, path: Path) -> WebinarRecord:
    return store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", NOW).record


def person(**changes) -> Registrant:
    """A registrant as the store gives one, not stored: Amélie in Paris with her personal join
    link, reading English (tests/test_languages.py has her mails in French)."""
    amelie = {
        "email": AMELIE,
        "first_name": "Amélie",
        "last_name": "Laurent",
        "organisation": "Direction interministérielle du numérique",
        "time_zone": "Europe/Paris",
        "language": "en",
        "join_url": AMELIE_LINK,
    }
    return reader(**{**amelie, **changes})


def reminder(offset_minutes: int = 60, message_id: str = "<reminder-1h.amelie@webinars.example.org>") -> Delivery:
    return planned("reminder", offset_minutes, message_id)


def confirmation(message_id: str = "<confirmation.amelie@webinars.example.org>") -> Delivery:
    return planned("confirmation", None, message_id)


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def the_part(message: EmailMessage, content_type: str) -> EmailMessage:
    [part] = [p for p in message.walk() if p.get_content_type() == content_type]
    return part


def invite_bytes(raw: bytes) -> bytes:
    """The calendar as a client reads it from the text/calendar alternative."""
    return the_part(parse(raw), "text/calendar").get_content().encode("utf-8")


def the_event(calendar: icalendar.Calendar) -> icalendar.Event:
    [event] = calendar.events
    return event


def event_of(raw: bytes) -> icalendar.Event:
    """The one VEVENT of a message's invite."""
    return the_event(icalendar.Calendar.from_ical(invite_bytes(raw)))


def flat(text: str) -> str:
    """Text with every run of white space (line breaks from wrapping too) made one space."""
    return " ".join(text.split())


def transcript(raw: bytes) -> list[str]:
    """The message as lines: every part's headers, then its decoded body (base64 and
    quoted-printable undone), so that what changes between two sends can be seen line by line."""
    lines = []
    for part in parse(raw).walk():
        lines += [f"{name}: {value}" for name, value in part.items()]
        if not part.is_multipart():
            body = part.get_content()
            lines += (body.decode("utf-8") if isinstance(body, bytes) else body).splitlines()
    return lines


def readable(raw: bytes) -> str:
    """Everything a person or a client can read in the message, decoded."""
    return "\n".join(transcript(raw))


def header_lines(raw: bytes) -> list[bytes]:
    """The header lines of the message and of every MIME part, as sent."""
    message = parse(raw)
    blocks = [raw.split(b"\r\n\r\n", 1)[0]]
    for part in message.walk():
        boundary = part.get_boundary()
        if boundary:
            for chunk in raw.split(b"--" + boundary.encode("ascii"))[1:]:
                blocks.append(chunk.split(b"\r\n\r\n", 1)[0])
    return [line for block in blocks for line in block.split(b"\r\n")]


# -- 1. the MIME message --------------------------------------------------------------------


def test_a_reminder_is_text_html_and_calendar_alternatives_with_the_invite_attached(composer):
    message = parse(composer.message_bytes(reminder(), person(), AN_HOUR_BEFORE))

    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, html, calendar = alternative.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert text.get_content_charset() == "utf-8"
    assert html.get_content_type() == "text/html"
    assert html.get_content_charset() == "utf-8"
    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_param("method") == "REQUEST"
    assert calendar["Content-Transfer-Encoding"] == "base64"

    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content() == calendar.get_content().encode("utf-8"), "one invite, twice"


def test_message_bytes_have_crlf_line_ends_and_no_line_over_998_octets(composer):
    raw = composer.message_bytes(reminder(), person(), AN_HOUR_BEFORE)

    assert b"\r\n" in raw
    assert re.search(rb"(?<!\r)\n", raw) is None, "a bare LF"
    assert re.search(rb"\r(?!\n)", raw) is None, "a bare CR"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_headers_say_who_it_is_from_and_to_where_replies_go_and_that_it_is_automatic(composer, settings):
    message = parse(composer.message_bytes(reminder(), person(), AN_HOUR_BEFORE))

    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Webinar team", "webinars@webinars.example.org")
    assert settings.sender == ("Webinar team", sender.addr_spec)
    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Amélie Laurent", AMELIE)
    [reply_to] = message["Reply-To"].addresses
    assert (reply_to.display_name, reply_to.addr_spec) == ("Ms. Jihyun (Jenny) Jeoung", REGISTRATION_CONTACT)
    assert message["Date"].datetime == AN_HOUR_BEFORE
    assert message["Message-ID"] == "<reminder-1h.amelie@webinars.example.org>"
    assert message["Auto-Submitted"] == "auto-generated"
    unsubscribe = message["List-Unsubscribe"].strip()
    assert re.fullmatch(r"<mailto:[^>\s]+>", unsubscribe)
    assert unsubscribe.startswith(f"<mailto:{REGISTRATION_CONTACT}?subject=Unsubscribe%20{SAMPLE_SLUG}")


def test_the_stored_message_id_is_used_and_reused_on_every_composition(store, synced, settings):
    composer = Composer(synced, settings)
    amelie = store.registrant(synced.id, AMELIE)
    listed = Outbox(store).listing(synced.id)
    [delivery] = [d for d, email, _ in listed if email == AMELIE and d.kind == "reminder-1h"]

    first = parse(composer.message_bytes(delivery, amelie, AN_HOUR_BEFORE))
    retry = parse(composer.message_bytes(delivery, amelie, LATER))

    assert first["Message-ID"] == retry["Message-ID"] == delivery.message_id
    others = {d.message_id for d, _, _ in listed if d.id != delivery.id}
    assert delivery.message_id not in others


def test_the_same_delivery_composed_twice_differs_only_in_date_and_dtstamp(composer):
    first = composer.message_bytes(reminder(), person(), AN_HOUR_BEFORE)

    assert composer.message_bytes(reminder(), person(), AN_HOUR_BEFORE) == first, "same time, same bytes"

    retry = composer.message_bytes(reminder(), person(), LATER)

    def blanked(raw: bytes) -> list[str]:
        return ["" if line.startswith(("Date:", "DTSTAMP:")) else line for line in transcript(raw)]

    assert blanked(retry) == blanked(first)
    assert transcript(retry) != transcript(first)
    assert parse(retry)["Date"].datetime == LATER
    assert event_of(retry)["DTSTAMP"].dt == LATER


# -- 2. the invite --------------------------------------------------------------------------


def test_the_invite_is_a_request_for_one_event_at_the_webinar_time(composer, webinar):
    raw = composer.message_bytes(reminder(), person(), AN_HOUR_BEFORE)
    calendar = icalendar.Calendar.from_ical(invite_bytes(raw))

    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"]
    event = the_event(calendar)
    assert event["UID"] == webinar.calendar_uid
    assert event["SEQUENCE"] == webinar.revision == 0
    assert event["SUMMARY"] == webinar.title
    assert event["STATUS"] == "CONFIRMED"
    assert event["DTSTART"].params["TZID"] == "Asia/Seoul"
    assert event["DTEND"].params["TZID"] == "Asia/Seoul"
    assert event.start == START
    assert event.end == datetime(2021, 4, 30, 7, 30, tzinfo=UTC)
    assert event["DTSTAMP"].dt == AN_HOUR_BEFORE
    assert event["DTSTAMP"].to_ical().endswith(b"Z"), "DTSTAMP is in UTC"


def test_the_invite_has_crlf_line_ends_and_lines_of_at_most_75_octets(composer):
    long_name = person(first_name="Zoë-Émilie Ångström-Łukasiewicz", last_name="Nguyễn Thị Minh Khai 李小龍 " * 3)
    ics = invite_bytes(composer.message_bytes(reminder(), long_name, AN_HOUR_BEFORE))

    assert ics.endswith(b"END:VCALENDAR\r\n")
    assert re.search(rb"(?<!\r)\n", ics) is None
    assert max(len(line) for line in ics.split(b"\r\n")) <= 75


def test_every_tzid_in_the_invite_has_its_vtimezone(composer):
    ics = invite_bytes(composer.message_bytes(reminder(), person(), AN_HOUR_BEFORE))
    calendar = icalendar.Calendar.from_ical(ics)

    assert [tz["TZID"] for tz in calendar.timezones] == ["Asia/Seoul"]
    assert calendar.get_used_tzids() == {"Asia/Seoul"}
    assert calendar.get_missing_tzids() == set()
    unfolded = re.sub(r"\r\n[ \t]", "", ics.decode("utf-8"))
    assert set(re.findall(r";TZID=([^;:]+)", unfolded)) == {"Asia/Seoul"}


def test_a_second_parser_reads_the_same_invite(composer, webinar):
    raw = composer.message_bytes(reminder(), person(), AN_HOUR_BEFORE)
    calendar = vobject.readOne(invite_bytes(raw).decode("utf-8"))

    assert calendar.method.value == "REQUEST"
    assert calendar.version.value == "2.0"
    assert calendar.prodid.value
    [event] = calendar.vevent_list
    assert event.uid.value == webinar.calendar_uid
    assert event.sequence.value == "0"
    assert calendar.vtimezone.tzid.value == "Asia/Seoul"
    assert event.dtstart.params["X-VOBJ-ORIGINAL-TZID"] == ["Asia/Seoul"], "read from DTSTART;TZID="
    assert event.dtstart.value.tzname() == "KST", "vobject took the zone from the VTIMEZONE"
    assert event.dtstart.value == START
    [attendee] = event.attendee_list
    assert attendee.value == f"mailto:{AMELIE}"
    assert attendee.params["RSVP"] == ["FALSE"]
    assert event.organizer.value == f"mailto:{REGISTRATION_CONTACT}"
    assert event.location.value == event.url.value == AMELIE_LINK
    assert AMELIE_LINK in event.description.value


def test_the_organizer_is_a_mailto_uri_and_the_one_attendee_is_the_recipient(composer):
    event = event_of(composer.message_bytes(reminder(), person(), AN_HOUR_BEFORE))

    assert str(event["ORGANIZER"]) == f"mailto:{REGISTRATION_CONTACT}"
    assert event["ORGANIZER"].params["CN"] == "Ms. Jihyun (Jenny) Jeoung"
    attendee = event["ATTENDEE"]
    assert not isinstance(attendee, list), "exactly one ATTENDEE"
    assert str(attendee) == f"mailto:{AMELIE}"
    assert attendee.params["RSVP"] == "FALSE"
    assert attendee.params["CN"] == "Amélie Laurent"


def test_the_personal_join_link_is_the_location_the_url_and_in_the_description(composer):
    event = event_of(composer.message_bytes(reminder(), person(), AN_HOUR_BEFORE))

    assert event["LOCATION"] == AMELIE_LINK
    assert str(event["URL"]) == AMELIE_LINK
    assert event["DESCRIPTION"].startswith(f"Join: {AMELIE_LINK}\n")


def test_the_uid_is_the_webinars_for_every_message_and_every_person(composer, webinar):
    people = [
        person(),
        person(email="ji-woo.kim@example.org", first_name="Ji-woo", last_name="Kim", time_zone="Asia/Seoul"),
        person(email="guest.observer@example.org", first_name="Sam", last_name=None, time_zone=None, join_url=None),
    ]
    uids = {
        event_of(composer.message_bytes(delivery, who, AN_HOUR_BEFORE))["UID"]
        for who in people
        for delivery in (confirmation(), reminder(1440), reminder(60))
    }

    assert uids == {webinar.calendar_uid}


def test_moving_the_webinar_raises_the_sequence_and_keeps_the_uid(store, webinar, settings, tmp_path):
    moved = definition_variant(tmp_path, {'start = "2021-04-30 15:00"': 'start = "2021-05-07 15:00"'})
    rescheduled = store.save_webinar(load_definition(moved), moved.read_text(encoding="utf-8"), "local", NOW).record
    assert rescheduled.revision == 1

    raw = Composer(rescheduled, settings).message_bytes(reminder(), person(), AN_HOUR_BEFORE)
    event = event_of(raw)

    assert event["SEQUENCE"] == 1
    assert event["UID"] == webinar.calendar_uid
    assert event.start == datetime(2021, 5, 7, 6, 0, tzinfo=UTC)
    assert vobject.readOne(invite_bytes(raw).decode("utf-8")).vevent.sequence.value == "1"


def test_names_in_cn_have_no_quotes_or_control_characters(composer):
    sneaky = person(first_name='Ana "Bob"\r\nBcc: x', last_name="\u202eDoe\x00")
    ics = invite_bytes(composer.message_bytes(reminder(), sneaky, AN_HOUR_BEFORE))
    event = the_event(icalendar.Calendar.from_ical(ics))
    cn = event["ATTENDEE"].params["CN"]

    assert '"' not in cn
    assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in cn)
    assert "Ana" in cn
    assert "Bob" in cn
    assert "Doe" in cn
    assert vobject.readOne(ics.decode("utf-8")).vevent.attendee.params["CN"] == [cn]
    assert not any(line.startswith(b"Bcc") for line in ics.split(b"\r\n"))


# -- 3. times in two zones ------------------------------------------------------------------


def test_a_reader_in_paris_sees_the_event_time_and_her_own(composer):
    words = composer.render("reminder", person(), AN_HOUR_BEFORE, 60)

    for part in (words.text, words.html):
        assert "Friday 30 April 2021, 15:00–16:30 Seoul time (GMT+9)" in part
        assert "08:00–09:30 your time (Europe/Paris)" in part


def test_a_reader_in_los_angeles_sees_the_day_before_on_her_clock(composer):
    words = composer.render("reminder", person(time_zone="America/Los_Angeles"), AN_HOUR_BEFORE, 60)

    for part in (flat(words.text), words.html):
        assert "Friday 30 April 2021, 15:00–16:30 Seoul time (GMT+9)" in part
        assert "Thursday 29 April 2021, 23:00 – Friday 30 April 2021, 00:30 your time (America/Los_Angeles)" in part


def test_agenda_rows_past_midnight_on_her_clock_carry_their_day(composer):
    words = composer.render("reminder", person(time_zone="America/Los_Angeles"), AN_HOUR_BEFORE, 60)

    assert "15:45–16:05 Seoul time · 23:45–00:05 your time" in words.text, "it starts on Thursday"
    assert "16:05–16:25 Seoul time · Fri 00:05–00:25 your time" in words.text
    assert ">Fri 00:25–00:30</span></td>" in words.html


@pytest.mark.parametrize("zone", [None, "", "Asia/Seoul"])
def test_a_reader_without_a_zone_or_in_the_events_zone_sees_only_the_event_time(composer, zone):
    words = composer.render("reminder", person(time_zone=zone), AN_HOUR_BEFORE, 60)

    for part in (words.text, words.html):
        assert "Friday 30 April 2021, 15:00–16:30 Seoul time (GMT+9)" in part
        assert "your time" not in part.lower()


def test_the_agenda_shows_both_clocks_for_a_reader_in_paris(composer):
    words = composer.render("reminder", person(), AN_HOUR_BEFORE, 60)

    both = [
        ("15:00", "08:00"),
        ("15:00–15:45", "08:00–08:45"),
        ("15:45–16:05", "08:45–09:05"),
        ("16:05–16:25", "09:05–09:25"),
        ("16:25–16:30", "09:25–09:30"),
    ]
    for seoul, paris in both:
        assert f"  {seoul} Seoul time · {paris} your time\n" in words.text
        assert re.search(rf">{seoul}<br><span[^>]*>{paris}</span></td>", words.html), "hers under Seoul's"
    assert ">Your time</span></th>" in words.html


@pytest.mark.parametrize(
    ("offset_minutes", "opening"),
    [
        (10080, "Starts in 7 days: "),
        (1440, "Tomorrow: "),
        (90, "Starts in 1 hour 30 minutes: "),
        (60, "Starts in 1 hour: "),
        (30, "Starts in 30 minutes: "),
    ],
)
def test_the_reminder_subject_says_how_soon(composer, webinar, offset_minutes, opening):
    words = composer.render("reminder", person(), AN_HOUR_BEFORE, offset_minutes)

    assert words.subject == opening + webinar.title


def test_the_confirmation_subject_names_the_webinar_and_its_day(composer, webinar):
    words = composer.render("confirmation", person(), NOW)

    assert words.subject == f"You are registered: {webinar.title} (Friday 30 April 2021)"


# -- 4. content -----------------------------------------------------------------------------


@pytest.mark.parametrize("template", ["reminder", "confirmation"])
def test_the_mail_carries_the_whole_programme(composer, sample, template):
    words = composer.render(template, person(), AN_HOUR_BEFORE, 60 if template == "reminder" else None)
    text, html = flat(words.text), words.html

    def in_both(value: str) -> None:
        assert flat(value) in text, value
        assert str(escape(value)) in html, value

    for value in (sample.title, sample.series, sample.session, f"Dear {person().first_name},"):
        in_both(value)
    for item in sample.agenda:
        in_both(f"{times.format_clock_span(item.start, item.end, sample.time_zone)}")
        assert f"  {times.format_clock_span(item.start, item.end, sample.time_zone)} Seoul time" in words.text
        in_both(item.title)
        for speaker in item.speakers:
            in_both(speaker.describe())
    for group in sample.questions:
        in_both(group.part)
        for question in group.items:
            in_both(question)
    for reading in sample.readings:
        in_both(reading.title)
        assert reading.url in words.text.split()
        assert f'href="{escape(reading.url)}"' in html
    for contact in sample.contacts:
        in_both(f"{contact.purpose_label}: {contact.describe()}")
        in_both(contact.email)
    assert f"Please write to {REGISTRATION_CONTACT} to cancel your registration" in text
    contact = re.escape(REGISTRATION_CONTACT)
    assert re.search(rf'Please write to <a href="mailto:{contact}">{contact}</a> to cancel your registration', html)
    assert AMELIE_LINK in words.text.split()
    assert f'href="{AMELIE_LINK}"' in html
    in_both("This link is yours alone: please do not share it.")


def test_the_html_reads_well_with_styles_off_and_its_links_say_where_they_go(composer):
    markup = composer.render("reminder", person(), AN_HOUR_BEFORE, 60).html
    links = {text: html.unescape(href) for href, text in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', markup)}

    assert '<html lang="en">' in markup
    assert markup.count("<h1") == 1
    assert "<img" not in markup, "nothing depends on images being shown"
    assert 'role="presentation"' not in markup, "the agenda is a data table: its headers are read out"
    headers = [
        re.sub(r"<br>", " / ", re.sub(r"</?span[^>]*>", "", cell))
        for cell in re.findall(r'<th scope="col"[^>]*>(.*?)</th>', markup)
    ]
    assert headers == ["Seoul time / Your time", "Session"]
    assert links["Join the webinar"] == AMELIE_LINK
    google = links["Add to Google Calendar"]
    assert google.startswith("https://calendar.google.com/calendar/render?action=TEMPLATE&")
    assert "&dates=20210430T060000Z/20210430T073000Z&" in google
    work = links["Add to Outlook on the web (work or school account, Microsoft 365)"]
    personal = links["Add to Outlook.com (personal Microsoft account)"]
    assert work.startswith("https://outlook.office.com/calendar/0/deeplink/compose?")
    assert personal.startswith("https://outlook.live.com/calendar/0/deeplink/compose?")
    for link in (google, work, personal):
        assert link.endswith(f"&location={quote(AMELIE_LINK, safe='')}"), "the reader's own join link, encoded"
        assert re.search(r"\s", link) is None, "every value percent-encoded"


def test_an_organiser_can_leave_out_the_questions_and_the_readings(store, settings, sample, tmp_path):
    lean = definition_variant(
        tmp_path,
        {"[reminders]": "[mail]\ninclude_questions = false\ninclude_readings = false\n\n[reminders]"},
    )
    words = Composer(save(store, lean), settings).render("reminder", person(), AN_HOUR_BEFORE, 60)

    assert "GUIDING QUESTIONS" not in words.text
    assert "BACKGROUND READINGS" not in words.text
    assert "Guiding questions" not in words.html
    assert "Background readings" not in words.html
    for question in (q for group in sample.questions for q in group.items):
        assert flat(question) not in flat(words.text)
        assert str(escape(question)) not in words.html
    for reading in sample.readings:
        assert reading.url not in words.text
        assert str(escape(reading.url)) not in words.html
    assert "AGENDA" in words.text, "the rest is still there"
    assert "CONTACTS" in words.text


def test_without_a_personal_link_the_webinars_shared_link_is_used(store, synced, settings):
    composer = Composer(synced, settings)
    shared = synced.join_url
    assert shared == f"{BASE_URL}/w/{synced.provider_webinar_id}"
    amelie = dataclasses.replace(store.registrant(synced.id, AMELIE), join_url=None)

    raw = composer.message_bytes(reminder(), amelie, AN_HOUR_BEFORE)
    words = composer.render("reminder", amelie, AN_HOUR_BEFORE, 60)

    assert shared in words.text.split()
    assert f'href="{shared}"' in words.html
    assert "yours alone" not in words.text
    assert "yours alone" not in words.html
    event = event_of(raw)
    assert event["LOCATION"] == shared
    assert str(event["URL"]) == shared


def test_with_no_link_at_all_the_mail_says_one_will_follow(composer):
    words = composer.render("reminder", person(join_url=None), AN_HOUR_BEFORE, 60)

    assert "The join link will follow in a separate mail." in words.text
    assert "The join link will follow in a separate mail." in words.html
    assert "/j/" not in words.text


# -- 5. personal links stay personal ----------------------------------------------------------


def test_a_personal_join_link_is_only_in_its_owners_mail(store, synced, settings):
    composer = Composer(synced, settings)
    people = [store.registrant(synced.id, a) for a in (AMELIE, "ji-woo.kim@example.org", "guest.observer@example.org")]
    links = {row.email: row.join_url for row in people}
    assert len(set(links.values())) == 3
    assert all(link.startswith(f"{BASE_URL}/j/") for link in links.values())

    mails = {row.email: composer.message_bytes(reminder(), row, AN_HOUR_BEFORE) for row in people}

    for owner, link in links.items():
        token = link.rsplit("/", 1)[1]
        for recipient, raw in mails.items():
            if recipient == owner:
                assert link in readable(raw)
                message = parse(raw)
                assert link in the_part(message, "text/plain").get_content()
                assert link in the_part(message, "text/html").get_content()
                assert link in the_part(message, "text/calendar").get_content()
            else:
                assert token not in readable(raw), f"{owner}'s link is in the mail to {recipient}"
                assert token.encode() not in raw


def one_click_link(message: EmailMessage) -> str:
    """The reader's one-click unsubscribe link, as the List-Unsubscribe header gives it."""
    [link] = re.findall(r"<(https?://[^>]+)>", str(message["List-Unsubscribe"]))
    return link


@pytest.mark.parametrize("delivery", [confirmation(), reminder()], ids=["confirmation", "reminder"])
def test_the_mail_shows_its_readers_own_unsubscribe_link_where_the_header_has_it(store, synced, settings, delivery):
    composer = Composer(synced, settings)
    people = [store.registrant(synced.id, a) for a in (AMELIE, "ji-woo.kim@example.org")]
    mails = {row.email: parse(composer.message_bytes(delivery, row, AN_HOUR_BEFORE)) for row in people}
    links = {owner: one_click_link(message) for owner, message in mails.items()}

    for owner, message in mails.items():
        text = the_part(message, "text/plain").get_content()
        markup = the_part(message, "text/html").get_content()
        assert links[owner] in text
        assert f'href="{links[owner]}"' in markup
        assert 'reply with "unsubscribe"' not in text + markup, "nothing records such a reply"
        seen = readable(message.as_bytes())
        others = [o for o, link in links.items() if o != owner and link.rsplit("/", 1)[1] in seen]
        assert others == [], f"the mail to {owner} holds the unsubscribe link of {others}"


def test_a_mail_without_an_unsubscribe_link_does_not_offer_one(composer):
    words = composer.render("reminder", person(), AN_HOUR_BEFORE, 60)  # a preview's reader: no id, no link

    assert "/u/" not in words.text + words.html
    assert 'reply with "unsubscribe"' not in words.text + words.html


def cancel_link(text: str) -> str:
    """The reader's cancel link (`/c/TOKEN`, not a calendar file's `/c/TOKEN/invite.ics`)."""
    [link] = re.findall(r"https://webinars\.example\.org/c/[\w.-]+(?![\w./-])", text)
    return link


@pytest.mark.parametrize("delivery", [confirmation(), reminder()], ids=["confirmation", "reminder"])
def test_the_mail_carries_its_readers_own_cancel_link_and_no_one_elses(store, synced, settings, delivery):
    composer = Composer(synced, settings)
    people = [store.registrant(synced.id, a) for a in (AMELIE, "ji-woo.kim@example.org")]
    mails = {row.email: parse(composer.message_bytes(delivery, row, AN_HOUR_BEFORE)) for row in people}
    texts = {owner: the_part(message, "text/plain").get_content() for owner, message in mails.items()}
    links = {owner: cancel_link(text) for owner, text in texts.items()}

    assert len(set(links.values())) == 2
    for owner, message in mails.items():
        assert f":\n  {links[owner]}\n" in texts[owner].replace("\r\n", "\n"), "on its own line, under its words"
        assert f'<a href="{links[owner]}"' in the_part(message, "text/html").get_content()
        seen = readable(message.as_bytes())
        others = [o for o, link in links.items() if o != owner and link.rsplit("/", 1)[1] in seen]
        assert others == [], f"the mail to {owner} holds the cancel link of {others}"


def test_a_previews_sample_reader_gets_no_cancel_link(composer):
    words = composer.render("confirmation", person(), AN_HOUR_BEFORE, None)  # no id: not in the database

    assert "Cancel your registration" not in words.text + words.html
    assert "/c/" not in words.text.replace("/invite.ics", "") + words.html


def test_the_cancel_link_is_not_an_unsubscribe_link_and_an_update_carries_none(composer):
    reader = person(id=42)
    confirmation_words = composer.render("confirmation", reader, AN_HOUR_BEFORE, None)
    update_words = composer.render("update", reader, AN_HOUR_BEFORE, None)

    link = cancel_link(confirmation_words.text)
    assert link == composer.cancel_url(reader) != composer.unsubscribe_url(reader)
    assert link.rsplit("/", 1)[1] != composer.unsubscribe_url(reader).rsplit("/", 1)[1]
    assert "Cancel your registration" not in update_words.text + update_words.html


# -- 6. injection -----------------------------------------------------------------------------


def test_markup_in_a_name_is_escaped_in_html_and_kept_as_is_in_text(composer):
    words = composer.render("reminder", person(first_name="<script>alert(1)</script>"), AN_HOUR_BEFORE, 60)

    assert "<script" not in words.html.lower()
    assert "Dear &lt;script&gt;alert(1)&lt;/script&gt;," in words.html
    assert "Dear <script>alert(1)</script>," in words.text


@pytest.mark.parametrize(
    "name",
    ["{{ 7*7 }}", "{% for x in range(3) %}x{% endfor %}", "{{ cycler.__init__.__globals__ }}", "{# hidden #}"],
)
def test_template_syntax_in_a_name_is_only_text(composer, name):
    for template in ("reminder", "confirmation"):
        words = composer.render(template, person(first_name=name, last_name=name), AN_HOUR_BEFORE, 60)

        assert f"Dear {name}," in words.text
        assert f"Dear {escape(name)}," in words.html
        assert "49" not in words.text + words.html
        assert "xxx" not in words.text + words.html


def test_a_line_break_in_a_name_adds_no_header(composer):
    raw = composer.message_bytes(reminder(), person(first_name="Eve\r\nBcc: evil@example.org"), AN_HOUR_BEFORE)
    message = parse(raw)

    assert all(part["Bcc"] is None for part in message.walk())
    assert [line for line in header_lines(raw) if line.lower().startswith(b"bcc")] == []
    [to] = message["To"].addresses
    assert to.addr_spec == AMELIE
    assert len(message.get_all("To")) == 1
    assert "evil@example.org" not in {
        a.addr_spec for header in ("To", "From", "Reply-To") for a in message[header].addresses
    }


ENCODED_BCC = {
    "q-encoded": "=?utf-8?q?Eve=0D=0ABcc:_evil@example.org?=",
    "b-encoded": "=?utf-8?b?RXZlDQpCY2M6IGV2aWxAZXhhbXBsZS5vcmc=?=",
}


@pytest.mark.parametrize("name", ENCODED_BCC.values(), ids=ENCODED_BCC.keys())
def test_a_line_break_hidden_in_an_encoded_word_adds_no_header(composer, name):
    """`=?utf-8?q?...=0D=0A...?=` has no control character to strip, but this Python's email
    package (3.11.7, before the fix for CVE-2024-6923) decodes it while writing the header.
    The importer refuses such a name; should one arrive anyway, it still adds no header."""
    with pytest.raises(ValueError, match=re.escape("=?...?=")):
        validate.person_text(name)
    raw = composer.message_bytes(reminder(), person(first_name=name), AN_HOUR_BEFORE)
    message = parse(raw)

    assert [line for line in header_lines(raw) if line.lower().startswith(b"bcc")] == []
    assert all(part["Bcc"] is None for part in message.walk())
    assert [a.addr_spec for a in message["To"].addresses] == [AMELIE]


def test_a_line_break_hidden_in_an_encoded_word_in_the_title_is_refused(tmp_path):
    sneaky = definition_variant(
        tmp_path, {'title = "Strengthening': 'title = "=?utf-8?q?Data=0D=0ABcc:_evil@example.org?= Strengthening'}
    )
    with pytest.raises(InputError) as refused:
        load_definition(sneaky)
    assert [p.field for p in refused.value.problems] == ["title"]


def test_a_right_to_left_override_reaches_no_header(composer):
    rlo = "\u202e"
    raw = composer.message_bytes(
        reminder(), person(first_name=f"Amélie{rlo}gpj.exe", last_name=f"{rlo}Laurent"), AN_HOUR_BEFORE
    )
    message = parse(raw)

    for part in message.walk():
        for name, value in part.items():
            assert rlo not in str(value), name
    assert rlo.encode("utf-8") not in b"\r\n".join(header_lines(raw))
    event = event_of(raw)
    assert rlo not in event["ATTENDEE"].params["CN"]


def test_a_right_to_left_override_hidden_in_an_encoded_word_reaches_no_header(composer):
    name = "=?utf-8?q?Am=C3=A9lie=E2=80=AEgpj.exe?="
    with pytest.raises(ValueError, match=re.escape("=?...?=")):
        validate.person_text(name)
    message = parse(composer.message_bytes(reminder(), person(first_name=name), AN_HOUR_BEFORE))

    for header, value in message.items():
        assert "\u202e" not in str(value), header


# -- 7. organiser templates -------------------------------------------------------------------


@pytest.fixture
def organiser_folder(workdir: Path) -> Path:
    """A folder holding a definition that names its own template folder, `mytemplates`."""
    folder = workdir / "organiser"
    (folder / "mytemplates").mkdir(parents=True)
    definition_variant(folder, {"[reminders]": '[mail]\ntemplates = "mytemplates"\n\n[reminders]'})
    return folder


def own_templates(store: Store, settings: Settings, folder: Path) -> Composer:
    """The organiser's webinar, added by a path relative to the project folder, as on the command line."""
    return Composer(save(store, folder.relative_to(Path.cwd()) / "variant.toml"), settings)


def test_an_organisers_subject_replaces_the_default_and_the_rest_falls_back(store, settings, sample, organiser_folder):
    (organiser_folder / "mytemplates" / "reminder.subject.txt").write_text(
        "Reminder for {{ person.first_name }}: {{ webinar.session }} starts {{ starts_in }}\n", encoding="utf-8"
    )
    composer = own_templates(store, settings, organiser_folder)
    assert composer.definition.mail.templates == str((organiser_folder / "mytemplates").resolve())
    default = Composer(dataclasses.replace(composer.webinar, definition=sample), settings)

    mine = composer.render("reminder", person(), AN_HOUR_BEFORE, 60)
    theirs = default.render("reminder", person(), AN_HOUR_BEFORE, 60)

    assert mine.subject == "Reminder for Amélie: Session 5 starts in 1 hour"
    assert (mine.text, mine.html) == (theirs.text, theirs.html)
    assert composer.render("confirmation", person(), NOW) == default.render("confirmation", person(), NOW)


ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}",
    "{{ joiner.__init__.__globals__.os.system('touch PWNED') }}",
    "{{ namespace.__init__.__globals__.os.system('touch PWNED') }}",
    "{{ lipsum.__globals__['os'].system('touch PWNED') }}",
    "{{ self.__init__.__globals__.__builtins__.__import__('subprocess').run(['touch', 'PWNED']) }}",
    "{{ webinar.title.__class__.__base__.__subclasses__() }}",
    "{{ person.__class__.__init__.__globals__ }}",
    "{{ ''|attr('__class__') }}",
    "{{ '{0.__class__.__mro__}'.format('') }}",
    "{{ agenda[0].start.__class__.__mro__ }}",
]


@pytest.mark.parametrize("payload", ESCAPES)
def test_an_organisers_template_cannot_leave_the_sandbox(store, settings, organiser_folder, workdir, payload):
    (organiser_folder / "mytemplates" / "reminder.txt").write_text(f"Dear {{{{ person.first_name }}}},\n{payload}\n")

    # Refused when the webinar is saved (a plain escape) or, at the latest, by the sandbox while rendering.
    with pytest.raises(TemplateRefused, match="sandbox") as refused:
        own_templates(store, settings, organiser_folder).render("reminder", person(), AN_HOUR_BEFORE, 60)

    assert refused.value.__cause__ is None or isinstance(refused.value.__cause__, SecurityError)

    assert not (workdir / "PWNED").exists()
    assert not (organiser_folder / "PWNED").exists()


def test_a_filter_given_a_value_it_cannot_take_is_the_templates_error_with_its_line(store, settings, organiser_folder):
    (organiser_folder / "mytemplates" / "reminder.txt").write_text(
        "Dear {{ person.first_name }},\n{{ join_url | length }}\n"
    )
    composer = own_templates(store, settings, organiser_folder)

    with pytest.raises(TemplateRefused, match=r"reminder\.txt") as refused:
        composer.message_bytes(reminder(), person(join_url=None), AN_HOUR_BEFORE)

    [problem] = refused.value.problems
    assert problem.line == 2
    assert "NoneType" in str(problem)


def test_an_organisers_template_cannot_include_files_outside_the_template_folders(store, settings, organiser_folder):
    for outside in ("../variant.toml", "../../data/webinars/undesa-snu-session-5.toml", "/etc/passwd"):
        (organiser_folder / "mytemplates" / "reminder.txt").write_text(f'{{% include "{outside}" %}}\n')

        with pytest.raises(TemplateRefused, match="there is no template"):
            own_templates(store, settings, organiser_folder).render("reminder", person(), AN_HOUR_BEFORE, 60)


def test_an_organisers_template_cannot_carry_one_persons_mail_into_the_next(store, settings, organiser_folder):
    """One Composer writes everyone's mail: what a template does while writing one mail (here it
    stores the reader's link and drops an agenda item) must not show in the next. Refusing the
    change (the immutable sandbox's SecurityError, as TemplateRefused) is as good."""
    (organiser_folder / "mytemplates" / "reminder.txt").write_text(
        "Dear {{ person.first_name }},\n"
        "{{ agenda | length }} items; the one before you had {{ webinar.get('previous_link') }}\n"
        "{% set _ = webinar.update({'previous_link': join_url}) %}"
        "{% set _ = agenda.pop() %}"
    )
    composer = own_templates(store, settings, organiser_folder)
    amelie, ji_woo = person(), person(email="ji-woo.kim@example.org", join_url=f"{BASE_URL}/j/ji-woo-token")

    why = None
    try:
        first = composer.render("reminder", amelie, AN_HOUR_BEFORE, 60).text
        second = composer.render("reminder", ji_woo, AN_HOUR_BEFORE, 60).text
    except TemplateRefused as refused:
        why = refused.__cause__
    if why is not None:
        assert isinstance(why, SecurityError)
        return  # the sandbox refused to change the context: nothing can carry over
    assert AMELIE_LINK not in second, "Amélie's personal link is in the next person's mail"
    assert first.splitlines()[1].split(";")[0] == second.splitlines()[1].split(";")[0], "the agenda shrank"


def test_what_an_organisers_template_may_render_reaches_neither_os_nor_subprocess(store, settings, organiser_folder):
    """Whatever the context hands a template is plain data: no module, class or function in it."""
    (organiser_folder / "mytemplates" / "reminder.txt").write_text(
        "{{ webinar }}\n{{ when }}\n{{ person }}\n{{ agenda }}\n{{ questions }}\n{{ readings }}\n{{ contacts }}\n"
    )
    text = own_templates(store, settings, organiser_folder).render("reminder", person(), AN_HOUR_BEFORE, 60).text

    for dangerous in ("<module", "<class", "<function", "<built-in", "subprocess", "posix"):
        assert dangerous not in text


# -- 8. wrapping ------------------------------------------------------------------------------


def is_one_url(line: str) -> bool:
    return URL.fullmatch(line.strip().removeprefix("- ")) is not None


@pytest.mark.parametrize("template", ["reminder", "confirmation"])
@pytest.mark.parametrize("zone", ["Europe/Paris", "America/Los_Angeles", None])
def test_text_lines_fit_76_columns_unless_they_are_one_link(composer, template, zone):
    text = composer.render(template, person(time_zone=zone), AN_HOUR_BEFORE, 60).text

    too_long = [line for line in text.splitlines() if len(line) > TEXT_WIDTH and not is_one_url(line)]
    assert too_long == []


def test_links_are_never_broken(composer, sample):
    text = composer.render("reminder", person(), AN_HOUR_BEFORE, 60).text
    lines = [line.strip() for line in text.splitlines()]
    details = calendar_entry.details(AMELIE_LINK, f"{sample.series}, {sample.session}", "en")
    calendar_links = calendar_entry.links(sample.title, sample.start, sample.end, AMELIE_LINK, details).values()

    for link in [AMELIE_LINK, *(reading.url for reading in sample.readings), *calendar_links]:
        assert link in lines
    for url in URL.findall(text):
        assert url in {AMELIE_LINK, *(r.url for r in sample.readings), *calendar_links}, f"{url} is a piece of a link"


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéü,.?", min_size=1, max_size=15)
urls = st.builds(
    lambda path: f"https://example.org/{path}",
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_/%.?=&", min_size=0, max_size=140),
)
lines = st.builds(
    lambda indent, bullet, tokens: " " * indent + bullet + " ".join(tokens),
    st.integers(0, 6),
    st.sampled_from(["", "- ", "* ", "1. "]),
    st.lists(st.one_of(words, words, words, urls), min_size=1, max_size=40),
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.lists(lines, min_size=1, max_size=8))
def test_wrapping_keeps_every_word_and_link_and_fits_the_width(paragraph):
    source = "\n".join(paragraph)
    wrapped = wrap_text(source)

    assert wrapped.endswith("\n")
    assert wrapped.split() == source.split(), "the same words and links, in order, none broken"
    for line in wrapped.splitlines():
        assert len(line) <= TEXT_WIDTH or len(line.split()) == 1 or is_one_url(line), line


# -- 9. snapshots -----------------------------------------------------------------------------


SNAPSHOT_CASES = {
    "reminder": ("reminder", 60, "en"),
    "confirmation": ("confirmation", None, "en"),
    "reminder.fr": ("reminder", 60, "fr"),
    "confirmation.fr": ("confirmation", None, "fr"),
}


def rendered_for_snapshot(composer: Composer, name: str) -> Rendered:
    template, offset, language = SNAPSHOT_CASES[name]
    reader = person(language=language, id=42)  # from the database, so with her unsubscribe link
    return composer.render(template, reader, AN_HOUR_BEFORE, offset)


@pytest.mark.parametrize("name", sorted(SNAPSHOT_CASES))
@pytest.mark.parametrize("part", ["txt", "html"])
def test_the_mail_matches_its_snapshot(composer, name, part):
    words = rendered_for_snapshot(composer, name)
    actual = words.text if part == "txt" else words.html
    snapshot = SNAPSHOTS / f"{name}.{part}"

    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_bytes(actual.encode("utf-8"))
    assert snapshot.exists(), f"{snapshot} is missing; write it with UPDATE_SNAPSHOTS=1"
    expected = snapshot.read_bytes().decode("utf-8")
    assert actual == expected, (
        f"The {name} {part} differs from {snapshot.relative_to(SNAPSHOTS.parent.parent)}. If the change is "
        "intended, regenerate the snapshots with: "
        "UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_compose.py -k snapshot"
    )


# -- 10. the command line ---------------------------------------------------------------------


@pytest.fixture
def project(run):
    """A project folder after init, webinar add, registrants import and sync."""
    assert run("init").code == 0
    assert run("webinar", "add", "data/webinars/undesa-snu-session-5.toml").code == 0
    assert run("registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv").code == 0
    assert run("sync", SAMPLE_SLUG).code == 0
    return run


def test_preview_shows_a_registrants_mail_and_writes_the_html_and_the_message(project, workdir):
    # Amélie reads French (the sample CSV says so): shown here as an English reader would see it.
    ran = project(
        "preview", SAMPLE_SLUG, "--registrant", AMELIE, "--language", "en", "--html", "out.html", "--eml", "out.eml"
    )

    assert ran.code == 0, ran.stderr
    assert "Language: en" in ran.stderr
    title = load_definition(SAMPLE_DEFINITION).title
    assert f"To: {AMELIE}\n" in ran.stdout
    assert f"Subject: Starts in 1 hour: {title}\n" in ran.stdout
    assert "Dear Amélie," in ran.stdout
    assert "08:00–09:30 your time (Europe/Paris)" in ran.stdout
    [link] = re.findall(r"http://localhost:8080/j/\S+", ran.stdout)

    html = (workdir / "out.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<p>Dear Amélie,</p>" in html
    assert f'href="{link}"' in html

    raw = (workdir / "out.eml").read_bytes()
    message = parse(raw)
    assert message["Subject"] == f"Starts in 1 hour: {title}"
    assert message["To"].addresses[0].addr_spec == AMELIE
    assert message["Message-ID"]
    assert re.search(rb"(?<!\r)\n", raw) is None
    assert the_part(message, "text/plain").get_content().replace("\r\n", "\n") in ran.stdout
    assert the_part(message, "text/html").get_content().replace("\r\n", "\n") == html
    event = event_of(raw)
    assert event["LOCATION"] == link


def test_preview_of_someone_not_registered_exits_2(project):
    ran = project("preview", SAMPLE_SLUG, "--registrant", "nobody@example.org")

    assert ran.code == 2
    assert "nobody@example.org is not registered" in ran.stderr
    assert ran.stdout == ""
